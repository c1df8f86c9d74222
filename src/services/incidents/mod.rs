//! Incidents: create, read, list, change; the customer-update rule.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, DbBackend, EntityTrait,
    QueryFilter, QueryOrder, QuerySelect, Statement,
    sea_query::{Expr, ExprTrait, Func},
};

mod writing;
pub use writing::{IncidentWrite, write};

use super::{
    Context, ServiceError, find_incident,
    pagination::{Page, PageRequest},
    read_cache,
};
use crate::{
    config::CustomerUpdateMinutes,
    domain::{CleanupStatus, IncidentRef, IncidentStatus, Milestones, Severity},
    entities::{incident, role_assignment, sitrep},
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
