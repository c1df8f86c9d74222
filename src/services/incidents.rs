//! Incidents: create, read, list, change; the customer-update rule.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, DbBackend,
    EntityTrait, IntoActiveModel, QueryFilter, QueryOrder, QuerySelect, Statement,
    sea_query::{Expr, ExprTrait, Func},
};

use super::{
    Context, check_if_match, find_incident, insert_model, json_list, new_id,
    pagination::{Page, PageRequest},
    parse_stored, postmortems,
    read_cache::IncidentRecord,
    system_event,
};
use crate::{
    config::CustomerUpdateMinutes,
    db,
    domain::{CleanupStatus, IncidentRef, IncidentStatus, Milestones, Severity, TimelineKind},
    entities::{cleanup_item, incident, role_assignment, sitrep},
    error::ServiceError,
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
    pub record: Arc<IncidentRecord>,
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
        let (Ok(status), Ok(severity)) = (
            incident.status.parse::<IncidentStatus>(),
            incident.severity.parse::<Severity>(),
        ) else {
            return false;
        };
        if !status.is_open() {
            return false;
        }
        let Some(interval) = interval_for(&self.settings.customer_update_minutes, severity) else {
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
                        .add(incident::Column::Severity.eq(severity.as_str()))
                        .add(Expr::expr(last).lt(now - interval)),
                );
            }
        }
        let open: Vec<&str> = IncidentStatus::ALL
            .iter()
            .filter(|s| s.is_open())
            .map(|s| s.as_str())
            .collect();
        Condition::all()
            .add(incident::Column::Status.is_in(open))
            .add(by_severity)
    }
}

pub async fn create(ctx: &Context, new: NewIncident) -> Result<IncidentView, ServiceError> {
    let now = ctx.now();
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
    milestones.check()?;
    let txn = ctx.begin_write().await?;
    let number = db::next_counter(&txn, "incident").await?;
    let model = incident::Model {
        id: new_id(),
        number,
        title: new.title,
        severity: new.severity.as_str().into(),
        status: new.status.as_str().into(),
        customer_impact: new.customer_impact,
        affected_components: json_list(&new.affected_components),
        chat_room_url: new.chat_room_url,
        labels: json_list(&new.labels),
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
    };
    insert_model(&txn, model.clone().into_active_model()).await?;
    let opened = system_event(
        model.id,
        now,
        TimelineKind::StatusChange,
        format!(
            "Incident {} opened as {}, status {}.",
            IncidentRef::display(number),
            new.severity,
            new.status
        ),
    );
    insert_model(&txn, opened.into_active_model()).await?;
    postmortems::ensure(&txn, &model, &ctx.settings.postmortem_due, now).await?;
    txn.commit().await?;
    tracing::info!(incident.ref = %IncidentRef::display(number), "Incident opened");
    Ok(ctx.view(model))
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
) -> Result<IncidentRecord, ServiceError> {
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
    Ok(IncidentRecord {
        incident,
        current_sitrep,
        current_roles,
        counts,
        rendered: Default::default(),
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
        query = query.filter(incident::Column::Status.eq(status.as_str()));
    }
    if let Some(severity) = filter.severity {
        query = query.filter(incident::Column::Severity.eq(severity.as_str()));
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
    let now = ctx.now();
    let txn = ctx.begin_write().await?;
    let current = super::find_incident_for_update(&txn, reference).await?;
    check_if_match(if_match, current.version)?;

    let old_status: IncidentStatus = parse_stored(&current.status)?;
    let old_severity: Severity = parse_stored(&current.severity)?;
    let mut next = current.clone();
    if let Some(title) = changes.title {
        next.title = title;
    }
    if let Some(severity) = changes.severity {
        next.severity = severity.as_str().into();
    }
    if let Some(status) = changes.status {
        next.status = status.as_str().into();
    }
    apply(&mut next.customer_impact, changes.customer_impact);
    if let Some(components) = changes.affected_components {
        next.affected_components = json_list(&components);
    }
    apply(&mut next.chat_room_url, changes.chat_room_url);
    if let Some(labels) = changes.labels {
        next.labels = json_list(&labels);
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
    Milestones {
        started_at: next.started_at,
        detected_at: next.detected_at,
        acknowledged_at: next.acknowledged_at,
        mitigated_at: next.mitigated_at,
        resolved_at: next.resolved_at,
    }
    .check()?;

    if new_status == IncidentStatus::Closed && old_status != IncidentStatus::Closed {
        let pending = cleanup_item::Entity::find()
            .filter(cleanup_item::Column::IncidentId.eq(current.id))
            .filter(cleanup_item::Column::Status.eq(CleanupStatus::Pending.as_str()))
            .order_by_asc(cleanup_item::Column::CreatedAt)
            .all(&txn)
            .await?;
        if !pending.is_empty() {
            let listed: Vec<String> = pending
                .iter()
                .map(|item| format!("{} ({}): {}", item.id, item.kind, item.description))
                .collect();
            return Err(ServiceError::Conflict {
                detail: format!(
                    "{} cannot be closed while {} cleanup item(s) are pending: {}",
                    IncidentRef::display(current.number),
                    pending.len(),
                    listed.join("; ")
                ),
                field: Some("status".into()),
                pending_cleanup_items: pending.iter().map(|i| i.id.to_string()).collect(),
            });
        }
    }

    if next == current {
        txn.commit().await?;
        return Ok(ctx.view(current));
    }
    next.version = current.version + 1;
    next.updated_at = now;
    let result = incident::Entity::update_many()
        .set(next.clone().into_active_model().reset_all())
        .filter(incident::Column::Id.eq(current.id))
        .filter(incident::Column::Version.eq(current.version))
        .exec(&txn)
        .await?;
    if result.rows_affected != 1 {
        return Err(ServiceError::PreconditionFailed {
            current: current.version + 1,
            given: if_match.unwrap_or("").to_string(),
        });
    }
    if new_status != old_status {
        let text = if reopened {
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
        insert_model(&txn, event.into_active_model()).await?;
    }
    // A new severity or start moves the post-mortem's due date.
    postmortems::ensure(&txn, &next, &ctx.settings.postmortem_due, now).await?;
    let new_severity = changes.severity.unwrap_or(old_severity);
    if new_severity != old_severity {
        let event = system_event(
            current.id,
            now,
            TimelineKind::Decision,
            format!("Severity changed from {old_severity} to {new_severity}."),
        );
        insert_model(&txn, event.into_active_model()).await?;
    }
    txn.commit().await?;
    Ok(ctx.view(next))
}
