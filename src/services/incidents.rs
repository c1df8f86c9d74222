//! Incidents: create, read, list, change; the customer-update rule.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, DbBackend,
    EntityTrait, IntoActiveModel, QueryFilter, QueryOrder, QuerySelect, Statement,
    sea_query::{Expr, ExprTrait, Func},
};

use uuid::Uuid;

use super::{
    ConflictDetails, Context, Outcome, ServiceError, Written, check_if_match, find_incident,
    insert_model, new_id,
    pagination::{Page, PageRequest},
    postmortems, read_cache, system_event, update_versioned,
};
use crate::{
    config::{CustomerUpdateMinutes, PostmortemDue},
    db,
    domain::{CleanupStatus, IncidentRef, IncidentStatus, Milestones, Severity, TimelineKind},
    entities::{cleanup_item, incident, incident_external_id, role_assignment, sitrep},
    ingest::{IncidentKey, IncidentRecord},
};

/// A new incident, already checked.
#[derive(Debug, Clone)]
pub struct NewIncident {
    pub title: String,
    pub severity: Severity,
    pub status: IncidentStatus,
    pub customer_impact: Option<String>,
    pub affected_components: Vec<String>,
    pub chat_room_url: Option<String>,
    pub labels: Vec<String>,
    pub milestones: Milestones,
}

/// `None`: leave as it is; `Some(None)`: clear; `Some(Some(v))`: set.
pub type Change<T> = Option<Option<T>>;

/// A change to an incident's own fields, already checked field by field.
#[derive(Debug, Clone, Default)]
pub struct IncidentChanges {
    pub title: Option<String>,
    pub severity: Option<Severity>,
    pub status: Option<IncidentStatus>,
    pub customer_impact: Change<String>,
    pub affected_components: Option<Vec<String>>,
    pub chat_room_url: Change<String>,
    pub labels: Option<Vec<String>>,
    pub started_at: Change<DateTime<Utc>>,
    pub detected_at: Change<DateTime<Utc>>,
    pub acknowledged_at: Change<DateTime<Utc>>,
    pub mitigated_at: Change<DateTime<Utc>>,
    pub resolved_at: Change<DateTime<Utc>>,
}

/// An incident with what is computed from the clock and the settings.
#[derive(Debug, Clone)]
pub struct IncidentView {
    pub incident: incident::Model,
    pub customer_update_overdue: bool,
}

/// An incident with its current sitrep, roles and record counts (as read,
/// possibly shared with other requests through the read cache), and what
/// the clock says of it now.
#[derive(Debug, Clone)]
pub struct IncidentDetail {
    pub record: Arc<read_cache::IncidentRecord>,
    pub customer_update_overdue: bool,
}

impl IncidentDetail {
    pub fn view(&self) -> IncidentView {
        IncidentView {
            incident: self.record.incident.clone(),
            customer_update_overdue: self.customer_update_overdue,
        }
    }
}

#[derive(Debug, Clone, Copy, Default)]
pub struct IncidentCounts {
    pub timeline_events: u64,
    pub sitreps: u64,
    pub status_updates: u64,
    pub cleanup_items: u64,
    pub cleanup_items_pending: u64,
    pub remediation_items: u64,
}

/// Filters of the incident list.
#[derive(Debug, Clone, Default)]
pub struct IncidentFilter {
    pub status: Option<IncidentStatus>,
    pub severity: Option<Severity>,
    /// Started at or after.
    pub since: Option<DateTime<Utc>>,
    /// Started before.
    pub until: Option<DateTime<Utc>>,
    /// Text in the title (case-insensitive).
    pub q: Option<String>,
    pub customer_update_overdue: Option<bool>,
}

fn interval_for(minutes: &CustomerUpdateMinutes, severity: Severity) -> Option<Duration> {
    let m = match severity {
        Severity::Sev1 => minutes.sev1,
        Severity::Sev2 => minutes.sev2,
        Severity::Sev3 => minutes.sev3,
        Severity::Sev4 => minutes.sev4,
    };
    m.filter(|&m| m > 0)
        .map(|m| Duration::minutes(i64::from(m)))
}

impl Context {
    /// Open, with a configured interval for its severity, and no public
    /// update (or start) within it.
    pub fn customer_update_overdue(&self, incident: &incident::Model) -> bool {
        if !incident.status.is_open() {
            return false;
        }
        let Some(interval) =
            interval_for(&self.settings.customer_update_minutes, incident.severity)
        else {
            return false;
        };
        let since = incident
            .last_customer_update_at
            .or(incident.started_at)
            .unwrap_or(incident.created_at);
        since + interval < self.now()
    }

    pub fn view(&self, incident: incident::Model) -> IncidentView {
        IncidentView {
            customer_update_overdue: self.customer_update_overdue(&incident),
            incident,
        }
    }

    /// The SQL form of [`Context::customer_update_overdue`].
    fn overdue_condition(&self) -> Condition {
        let now = self.now();
        let mut by_severity = Condition::any();
        for &severity in Severity::ALL {
            if let Some(interval) = interval_for(&self.settings.customer_update_minutes, severity) {
                let last = Func::coalesce([
                    Expr::col(incident::Column::LastCustomerUpdateAt),
                    Expr::col(incident::Column::StartedAt),
                    Expr::col(incident::Column::CreatedAt),
                ]);
                by_severity = by_severity.add(
                    Condition::all()
                        .add(incident::Column::Severity.eq(severity))
                        .add(Expr::expr(last).lt(now - interval)),
                );
            }
        }
        let open: Vec<IncidentStatus> = IncidentStatus::ALL
            .iter()
            .copied()
            .filter(|s| s.is_open())
            .collect();
        Condition::all()
            .add(incident::Column::Status.is_in(open))
            .add(by_severity)
    }
}

/// An incident to store.
#[derive(Debug, Clone)]
pub enum IncidentWrite<'a> {
    /// Opened now (the API): started at the earliest milestone given, else
    /// now; resolved now when it opens resolved or closed. Its timeline and
    /// its post-mortem start with it.
    Open(NewIncident),
    /// A change made now (the API), `If-Match` checked. A new status moves
    /// `resolved_at` and `closed_at`; reopening clears them; closing waits
    /// for the pending cleanup items; status and severity changes are
    /// written to the timeline.
    Change {
        reference: IncidentRef,
        if_match: Option<&'a str>,
        changes: IncidentChanges,
    },
    /// Brought in by an import: matched by its id or by the foreign id it
    /// was imported under, then created, or changed as
    /// [`IncidentRecord::exact`] says. It is history, not a change made
    /// now: no status rule moves its times and no timeline entry is
    /// written. Its post-mortem is the importer's to ensure, once the
    /// file's own post-mortem has been read.
    Import(IncidentRecord),
    /// Milestones an import read from a foreign timeline, set where the
    /// incident has none.
    FillMilestones {
        id: Uuid,
        detected_at: Option<DateTime<Utc>>,
        acknowledged_at: Option<DateTime<Utc>>,
    },
}

/// What a change made now did to the status and severity, for the timeline.
struct Transition {
    old_status: IncidentStatus,
    new_status: IncidentStatus,
    old_severity: Severity,
    new_severity: Severity,
    reopened: bool,
}

pub async fn create(ctx: &Context, new: NewIncident) -> Result<IncidentView, ServiceError> {
    let txn = ctx.begin_write().await?;
    let written = write(
        &txn,
        IncidentWrite::Open(new),
        &ctx.settings.postmortem_due,
        ctx.now(),
    )
    .await?;
    txn.commit().await?;
    let model = written.model;
    tracing::info!(incident.ref = %IncidentRef::display(model.number), "Incident opened");
    Ok(ctx.view(model))
}

/// Store an incident inside the caller's transaction: the one writer of
/// incidents. Milestones are always in order; a changed incident gets the
/// next version.
pub async fn write<C: ConnectionTrait>(
    db: &C,
    write: IncidentWrite<'_>,
    periods: &PostmortemDue,
    now: DateTime<Utc>,
) -> Result<Written<incident::Model>, ServiceError> {
    let mut external = None;
    let mut transition = None;
    let mut given_if_match = None;
    let opened = matches!(write, IncidentWrite::Open(_));
    let (current, next) = match write {
        IncidentWrite::Open(new) => (None, opened_incident(new, now)),
        IncidentWrite::Change {
            reference,
            if_match,
            changes,
        } => {
            let current = super::find_incident_for_update(db, reference).await?;
            check_if_match(if_match, current.version)?;
            given_if_match = if_match;
            let (next, moved) = changed_now(&current, changes, now)?;
            transition = Some(moved);
            (Some(current), next)
        }
        IncidentWrite::Import(rec) => {
            let stored = match &rec.key {
                IncidentKey::Id(id) => incident::Entity::find_by_id(*id).one(db).await?,
                IncidentKey::External { source, id } => {
                    incident::Entity::find()
                        .inner_join(incident_external_id::Entity)
                        .filter(incident_external_id::Column::Source.eq(*source))
                        .filter(incident_external_id::Column::ExternalId.eq(id.as_str()))
                        .one(db)
                        .await?
                }
            };
            let next = imported_incident(stored.as_ref(), &rec, now);
            if stored.is_none()
                && let IncidentKey::External { source, id } = rec.key
            {
                external = Some((source, id));
            }
            (stored, next)
        }
        IncidentWrite::FillMilestones {
            id,
            detected_at,
            acknowledged_at,
        } => {
            let current = incident::Entity::find_by_id(id)
                .one(db)
                .await?
                .ok_or_else(|| ServiceError::NotFound(format!("incident {id}")))?;
            let mut next = current.clone();
            next.detected_at = next.detected_at.or(detected_at);
            next.acknowledged_at = next.acknowledged_at.or(acknowledged_at);
            (Some(current), next)
        }
    };
    milestones_of(&next).check()?;
    if let (Some(current), Some(t)) = (&current, &transition)
        && t.new_status == IncidentStatus::Closed
        && t.old_status != IncidentStatus::Closed
    {
        refuse_pending_cleanup(db, current).await?;
    }
    let written = match current {
        None => {
            let mut next = next;
            next.number = db::next_counter(db, "incident").await?;
            insert_model(db, next.clone().into_active_model()).await?;
            if let Some((source, external_id)) = external {
                let link = incident_external_id::Model {
                    source,
                    external_id,
                    incident_id: next.id,
                    created_at: now,
                };
                insert_model(db, link.into_active_model()).await?;
            }
            Written {
                model: next,
                outcome: Outcome::Created,
            }
        }
        Some(current) if current == next => Written {
            model: current,
            outcome: Outcome::Unchanged,
        },
        Some(current) => {
            let mut next = next;
            next.version = current.version + 1;
            next.updated_at = now;
            update_versioned(
                db,
                next.clone().into_active_model().reset_all(),
                (incident::Column::Id, current.id),
                (incident::Column::Version, current.version),
                given_if_match,
            )
            .await?;
            if let Some(t) = &transition {
                write_transition(db, &current, t, now).await?;
            }
            Written {
                model: next,
                outcome: Outcome::Updated,
            }
        }
    };
    let model = &written.model;
    if opened {
        let opened = system_event(
            model.id,
            now,
            TimelineKind::StatusChange,
            format!(
                "Incident {} opened as {}, status {}.",
                IncidentRef::display(model.number),
                model.severity,
                model.status
            ),
        );
        insert_model(db, opened.into_active_model()).await?;
    }
    // A new incident has its post-mortem; a new severity or start moves
    // its due date. An import's are ensured when the whole file is read.
    if (opened || transition.is_some()) && written.changed() {
        postmortems::ensure(db, model, periods, now).await?;
    }
    if let Some(t) = &transition
        && written.changed()
        && t.new_severity != t.old_severity
    {
        let event = system_event(
            model.id,
            now,
            TimelineKind::Decision,
            format!(
                "Severity changed from {} to {}.",
                t.old_severity, t.new_severity
            ),
        );
        insert_model(db, event.into_active_model()).await?;
    }
    Ok(written)
}

/// The milestones an incident row holds.
fn milestones_of(m: &incident::Model) -> Milestones {
    Milestones {
        started_at: m.started_at,
        detected_at: m.detected_at,
        acknowledged_at: m.acknowledged_at,
        mitigated_at: m.mitigated_at,
        resolved_at: m.resolved_at,
    }
}

/// A new incident opened now (its number is taken when it is stored).
fn opened_incident(new: NewIncident, now: DateTime<Utc>) -> incident::Model {
    let mut milestones = new.milestones;
    // Without `started_at`, the incident started at the earliest milestone
    // given (a back-dated record is not refused), else now.
    let earliest = [
        milestones.detected_at,
        milestones.acknowledged_at,
        milestones.mitigated_at,
        milestones.resolved_at,
    ]
    .into_iter()
    .flatten()
    .min();
    milestones.started_at.get_or_insert(earliest.unwrap_or(now));
    if matches!(
        new.status,
        IncidentStatus::Resolved | IncidentStatus::Closed
    ) {
        milestones.resolved_at.get_or_insert(now);
    }
    incident::Model {
        id: new_id(),
        number: 0,
        title: new.title,
        severity: new.severity,
        status: new.status,
        customer_impact: new.customer_impact,
        affected_components: new.affected_components.into(),
        chat_room_url: new.chat_room_url,
        labels: new.labels.into(),
        started_at: milestones.started_at,
        detected_at: milestones.detected_at,
        acknowledged_at: milestones.acknowledged_at,
        mitigated_at: milestones.mitigated_at,
        resolved_at: milestones.resolved_at,
        closed_at: (new.status == IncidentStatus::Closed).then_some(now),
        last_customer_update_at: None,
        sitrep_count: 0,
        version: 1,
        created_at: now,
        updated_at: now,
    }
}

/// An incident as an import records it: a new one (its number is taken
/// when it is stored), or the stored one with the file's values.
fn imported_incident(
    stored: Option<&incident::Model>,
    rec: &IncidentRecord,
    now: DateTime<Utc>,
) -> incident::Model {
    let ms = rec.milestones;
    let Some(stored) = stored else {
        return incident::Model {
            id: match &rec.key {
                IncidentKey::Id(id) => *id,
                IncidentKey::External { .. } => new_id(),
            },
            number: 0,
            title: rec.title.clone(),
            severity: rec.severity,
            status: rec.status,
            customer_impact: rec.customer_impact.clone(),
            affected_components: rec.affected_components.clone().into(),
            chat_room_url: rec.chat_room_url.clone(),
            labels: rec.labels.clone().into(),
            started_at: ms.started_at,
            detected_at: ms.detected_at,
            acknowledged_at: ms.acknowledged_at,
            mitigated_at: ms.mitigated_at,
            resolved_at: ms.resolved_at,
            closed_at: rec.closed_at,
            last_customer_update_at: None,
            sitrep_count: 0,
            version: 1,
            created_at: rec.created_at.unwrap_or(now),
            updated_at: now,
        };
    };
    let mut m = stored.clone();
    m.title = rec.title.clone();
    m.severity = rec.severity;
    m.status = rec.status;
    m.affected_components = rec.affected_components.clone().into();
    if rec.exact {
        m.customer_impact = rec.customer_impact.clone();
        m.chat_room_url = rec.chat_room_url.clone();
        m.labels = rec.labels.clone().into();
        m.started_at = ms.started_at;
        m.detected_at = ms.detected_at;
        m.acknowledged_at = ms.acknowledged_at;
        m.mitigated_at = ms.mitigated_at;
        m.resolved_at = ms.resolved_at;
        m.closed_at = rec.closed_at;
        m.created_at = rec.created_at.unwrap_or(m.created_at);
    } else {
        // A foreign format knows some milestones; the others are kept.
        m.started_at = ms.started_at.or(m.started_at);
        m.detected_at = ms.detected_at.or(m.detected_at);
        m.acknowledged_at = ms.acknowledged_at.or(m.acknowledged_at);
        m.mitigated_at = ms.mitigated_at.or(m.mitigated_at);
        m.resolved_at = ms.resolved_at.or(m.resolved_at);
    }
    m
}

/// The incident a change made now leaves, with the status rules applied.
fn changed_now(
    current: &incident::Model,
    changes: IncidentChanges,
    now: DateTime<Utc>,
) -> Result<(incident::Model, Transition), ServiceError> {
    let old_status: IncidentStatus = current.status;
    let old_severity: Severity = current.severity;
    let mut next = current.clone();
    if let Some(title) = changes.title {
        next.title = title;
    }
    if let Some(severity) = changes.severity {
        next.severity = severity;
    }
    if let Some(status) = changes.status {
        next.status = status;
    }
    apply(&mut next.customer_impact, changes.customer_impact);
    if let Some(components) = changes.affected_components {
        next.affected_components = components.into();
    }
    apply(&mut next.chat_room_url, changes.chat_room_url);
    if let Some(labels) = changes.labels {
        next.labels = labels.into();
    }
    apply(&mut next.started_at, changes.started_at);
    apply(&mut next.detected_at, changes.detected_at);
    apply(&mut next.acknowledged_at, changes.acknowledged_at);
    apply(&mut next.mitigated_at, changes.mitigated_at);
    apply(&mut next.resolved_at, changes.resolved_at);

    let new_status = changes.status.unwrap_or(old_status);
    // Reopening (resolved or closed → an open status): the incident is no
    // longer resolved, so `resolved_at` and `closed_at` are cleared and
    // the timeline says what they were.
    let reopened = !old_status.is_open() && new_status.is_open();
    if reopened && matches!(changes.resolved_at, Some(Some(_))) {
        return Err(ServiceError::validation(
            "resolved_at",
            format!(
                "reopening the incident as `{new_status}` clears `resolved_at`; it cannot be set in the same change"
            ),
        ));
    }
    if new_status != old_status {
        if matches!(
            new_status,
            IncidentStatus::Resolved | IncidentStatus::Closed
        ) {
            next.resolved_at.get_or_insert(now);
        }
        if reopened {
            next.resolved_at = None;
        }
        next.closed_at = (new_status == IncidentStatus::Closed).then_some(now);
    }
    let transition = Transition {
        old_status,
        new_status,
        old_severity,
        new_severity: changes.severity.unwrap_or(old_severity),
        reopened,
    };
    Ok((next, transition))
}

/// An incident is closed only when none of its cleanup items is pending.
async fn refuse_pending_cleanup<C: ConnectionTrait>(
    db: &C,
    current: &incident::Model,
) -> Result<(), ServiceError> {
    let pending = cleanup_item::Entity::find()
        .filter(cleanup_item::Column::IncidentId.eq(current.id))
        .filter(cleanup_item::Column::Status.eq(CleanupStatus::Pending))
        .order_by_asc(cleanup_item::Column::CreatedAt)
        .all(db)
        .await?;
    if pending.is_empty() {
        return Ok(());
    }
    let listed: Vec<String> = pending
        .iter()
        .map(|item| format!("{} ({}): {}", item.id, item.kind, item.description))
        .collect();
    Err(ServiceError::Conflict {
        detail: format!(
            "{} cannot be closed while {} cleanup item(s) are pending: {}",
            IncidentRef::display(current.number),
            pending.len(),
            listed.join("; ")
        ),
        field: Some("status".into()),
        details: Some(ConflictDetails::PendingCleanupItems(
            pending.iter().map(|i| i.id).collect(),
        )),
    })
}

/// The timeline entry of a status change made now.
async fn write_transition<C: ConnectionTrait>(
    db: &C,
    current: &incident::Model,
    t: &Transition,
    now: DateTime<Utc>,
) -> Result<(), ServiceError> {
    let (old_status, new_status) = (t.old_status, t.new_status);
    if new_status == old_status {
        return Ok(());
    }
    let text = if t.reopened {
        let cleared: Vec<String> = [
            ("resolved_at", current.resolved_at),
            ("closed_at", current.closed_at),
        ]
        .into_iter()
        .filter_map(|(name, at)| Some(format!("{name} ({})", at?.to_rfc3339())))
        .collect();
        let cleared = if cleared.is_empty() {
            String::new()
        } else {
            format!(" Cleared {}.", cleared.join(" and "))
        };
        format!("Incident reopened: status changed from {old_status} to {new_status}.{cleared}")
    } else {
        format!("Status changed from {old_status} to {new_status}.")
    };
    let event = system_event(current.id, now, TimelineKind::StatusChange, text);
    insert_model(db, event.into_active_model()).await?;
    Ok(())
}

pub async fn get(ctx: &Context, reference: IncidentRef) -> Result<IncidentView, ServiceError> {
    Ok(ctx.view(find_incident(&ctx.db, reference).await?))
}

pub async fn detail(ctx: &Context, reference: IncidentRef) -> Result<IncidentDetail, ServiceError> {
    let record = ctx
        .cache
        .incident(reference, || load_record(&ctx.db, reference))
        .await?;
    Ok(IncidentDetail {
        customer_update_overdue: ctx.customer_update_overdue(&record.incident),
        record,
    })
}

/// What the detail view shows, read from the database.
async fn load_record(
    db: &DatabaseConnection,
    reference: IncidentRef,
) -> Result<read_cache::IncidentRecord, ServiceError> {
    let incident = find_incident(db, reference).await?;
    let id = incident.id;
    let current_sitrep = sitrep::Entity::find()
        .filter(sitrep::Column::IncidentId.eq(id))
        .filter(sitrep::Column::Version.eq(incident.sitrep_count))
        .one(db)
        .await?;
    let current_roles = role_assignment::Entity::find()
        .filter(role_assignment::Column::IncidentId.eq(id))
        .filter(role_assignment::Column::RelievedAt.is_null())
        .order_by_asc(role_assignment::Column::AssignedAt)
        .all(db)
        .await?;
    let counts = counts(db, &incident).await?;
    Ok(read_cache::IncidentRecord {
        incident,
        current_sitrep,
        current_roles,
        counts,
        derived: Default::default(),
    })
}

/// All record counts in one round trip.
async fn counts(
    db: &DatabaseConnection,
    incident: &incident::Model,
) -> Result<IncidentCounts, ServiceError> {
    let backend = db.get_database_backend();
    let p = if backend == DbBackend::Postgres {
        "$1"
    } else {
        "?1"
    };
    let sql = format!(
        "SELECT \
           (SELECT COUNT(*) FROM timeline_events WHERE incident_id = {p}), \
           (SELECT COUNT(*) FROM status_updates WHERE incident_id = {p}), \
           (SELECT COUNT(*) FROM cleanup_items WHERE incident_id = {p}), \
           (SELECT COUNT(*) FROM cleanup_items WHERE incident_id = {p} AND status = '{pending}'), \
           (SELECT COUNT(*) FROM remediation_incidents WHERE incident_id = {p})",
        pending = CleanupStatus::Pending.as_str(),
    );
    let row = db
        .query_one_raw(Statement::from_sql_and_values(
            backend,
            sql,
            [incident.id.into()],
        ))
        .await?
        .ok_or_else(|| ServiceError::Internal(anyhow::anyhow!("count query returned no row")))?;
    let count = |i: usize| -> Result<u64, ServiceError> {
        Ok(u64::try_from(row.try_get_by_index::<i64>(i)?).unwrap_or(0))
    };
    Ok(IncidentCounts {
        timeline_events: count(0)?,
        sitreps: u64::try_from(incident.sitrep_count).unwrap_or(0),
        status_updates: count(1)?,
        cleanup_items: count(2)?,
        cleanup_items_pending: count(3)?,
        remediation_items: count(4)?,
    })
}

pub async fn list(
    ctx: &Context,
    filter: IncidentFilter,
    page: PageRequest<i64>,
) -> Result<Page<IncidentView>, ServiceError> {
    let mut query = incident::Entity::find();
    if let Some(status) = filter.status {
        query = query.filter(incident::Column::Status.eq(status));
    }
    if let Some(severity) = filter.severity {
        query = query.filter(incident::Column::Severity.eq(severity));
    }
    if let Some(since) = filter.since {
        query = query.filter(incident::Column::StartedAt.gte(since));
    }
    if let Some(until) = filter.until {
        query = query.filter(incident::Column::StartedAt.lt(until));
    }
    if let Some(q) = filter.q.as_deref().filter(|q| !q.is_empty()) {
        let pattern = format!("%{}%", escape_like(&q.to_lowercase()));
        query = query.filter(
            Expr::expr(Func::lower(Expr::col(incident::Column::Title)))
                .like(sea_orm::sea_query::LikeExpr::new(pattern).escape('\\')),
        );
    }
    match filter.customer_update_overdue {
        Some(true) => query = query.filter(ctx.overdue_condition()),
        Some(false) => query = query.filter(ctx.overdue_condition().not()),
        None => {}
    }
    if let Some(after) = page.after {
        query = query.filter(incident::Column::Number.lt(after));
    }
    let rows = query
        .order_by_desc(incident::Column::Number)
        .limit(page.limit + 1)
        .all(&ctx.db)
        .await?;
    Ok(Page::from_rows(rows, page.limit, |i| i.number).map(|i| ctx.view(i)))
}

pub(crate) fn escape_like(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn apply<T>(current: &mut Option<T>, change: Change<T>) {
    if let Some(value) = change {
        *current = value;
    }
}

pub async fn update(
    ctx: &Context,
    reference: IncidentRef,
    if_match: Option<&str>,
    changes: IncidentChanges,
) -> Result<IncidentView, ServiceError> {
    let txn = ctx.begin_write().await?;
    let change = IncidentWrite::Change {
        reference,
        if_match,
        changes,
    };
    let written = write(&txn, change, &ctx.settings.postmortem_due, ctx.now()).await?;
    txn.commit().await?;
    Ok(ctx.view(written.model))
}
