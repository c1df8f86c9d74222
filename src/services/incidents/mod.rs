//! Incidents: create, read, list, change; the customer-update rule.

use std::sync::{Arc, OnceLock};

use chrono::{DateTime, Duration, Utc};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, DbBackend, EntityTrait,
    FromQueryResult, QueryFilter, QueryOrder, QuerySelect, Statement,
    sea_query::{Expr, ExprTrait, Func},
};

mod writing;
pub use writing::{IncidentWrite, write};

use super::{
    Context, ServiceError, find_incident,
    pagination::{Page, PageRequest},
    read_cache, reads,
};
use crate::{
    config::CustomerUpdateMinutes,
    domain::{IncidentRef, IncidentStatus, Milestones, Severity},
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
    let record = if ctx.db.get_database_backend() == DbBackend::Postgres {
        let db = ctx.db.clone();
        ctx.cache
            .incident_since(reference, move |known| async move {
                load_record_since(&db, reference, known).await
            })
            .await?
    } else {
        ctx.cache
            .incident(reference, || load_record(&ctx.db, reference))
            .await?
    };
    Ok(IncidentDetail {
        customer_update_overdue: ctx.customer_update_overdue(&record.incident),
        record,
    })
}

/// The counts of an incident's records the detail view shows, each a
/// column of the incident's row (`n_…`).
const COUNTS: [(&str, &str); 5] = [
    (
        "n_timeline_events",
        "SELECT COUNT(*) FROM timeline_events t WHERE t.incident_id = x.id",
    ),
    (
        "n_status_updates",
        "SELECT COUNT(*) FROM status_updates t WHERE t.incident_id = x.id",
    ),
    (
        "n_cleanup_items",
        "SELECT COUNT(*) FROM cleanup_items t WHERE t.incident_id = x.id",
    ),
    (
        "n_cleanup_items_pending",
        "SELECT COUNT(*) FROM cleanup_items t WHERE t.incident_id = x.id AND t.status = 'pending'",
    ),
    (
        "n_remediation_items",
        "SELECT COUNT(*) FROM remediation_incidents t WHERE t.incident_id = x.id",
    ),
];

/// The statement of [`load_record`] and [`load_record_since`], by backend
/// and by how the incident is named. The incident and its counts are read
/// once (a materialised CTE), then joined with its current sitrep and its
/// current role holders: one row per role holder (at least one).
///
/// On PostgreSQL the statement also answers its snapshot (`snapshot`), and
/// reads nothing when that is the snapshot sent as `$2`: the condition holds
/// no column, so PostgreSQL evaluates it once, before the incident's scan (a
/// "One-Time Filter"), and the answer is one row of NULLs but `snapshot`.
fn incident_record_sql(backend: DbBackend, by_number: bool) -> String {
    let placeholder = reads::first_parameter(backend);
    let key = if by_number { "number" } else { "id" };
    let counts: Vec<String> = COUNTS
        .iter()
        .map(|(name, query)| format!("({query}) AS {name}"))
        .collect();
    let count_names: Vec<String> = COUNTS.iter().map(|(name, _)| format!("i.{name}")).collect();
    let (unless_unchanged, snapshot, from) = if backend == DbBackend::Postgres {
        (
            format!(" AND {SNAPSHOT} IS DISTINCT FROM $2"),
            format!("{SNAPSHOT} AS snapshot, "),
            "(SELECT) AS one LEFT JOIN i ON TRUE",
        )
    } else {
        (String::new(), String::new(), "i")
    };
    format!(
        "WITH i AS MATERIALIZED (SELECT x.*, {counts} FROM incidents x \
         WHERE x.{key} = {placeholder}{unless_unchanged}) \
         SELECT {snapshot}{count_names}, {incident}, {sitrep}, {role} FROM {from} \
         LEFT JOIN sitreps s ON s.incident_id = i.id AND s.version = i.sitrep_count \
         LEFT JOIN role_assignments r ON r.incident_id = i.id AND r.relieved_at IS NULL \
         ORDER BY r.assigned_at, r.created_at",
        counts = counts.join(", "),
        count_names = count_names.join(", "),
        incident = reads::aliased::<incident::Entity>("i", "A_"),
        sitrep = reads::aliased::<sitrep::Entity>("s", "B_"),
        role = reads::aliased::<role_assignment::Entity>("r", "C_"),
    )
}

/// The snapshot of a PostgreSQL statement: which transactions had ended
/// when it started. Two statements with the same snapshot see the same data.
const SNAPSHOT: &str = "pg_current_snapshot()::text";

/// The statement of [`incident_record_sql`] for `backend` and `reference`,
/// built once per shape: the hot read pays no formatting.
fn incident_record_statement(
    backend: DbBackend,
    reference: IncidentRef,
) -> (String, sea_orm::Value) {
    static SQL: [[OnceLock<String>; 2]; 2] = [
        [OnceLock::new(), OnceLock::new()],
        [OnceLock::new(), OnceLock::new()],
    ];
    let (by_number, value) = match reference {
        IncidentRef::Id(id) => (false, sea_orm::Value::from(id)),
        IncidentRef::Number(n) => (true, sea_orm::Value::from(n)),
    };
    let postgres = backend == DbBackend::Postgres;
    let sql = SQL[usize::from(postgres)][usize::from(by_number)]
        .get_or_init(|| incident_record_sql(backend, by_number))
        .clone();
    (sql, value)
}

/// An incident with what its detail view shows (its current sitrep, its
/// current role holders, the counts of its records), from one statement.
async fn load_record(
    db: &DatabaseConnection,
    reference: IncidentRef,
) -> Result<read_cache::IncidentRecord, ServiceError> {
    let backend = db.get_database_backend();
    let (sql, value) = incident_record_statement(backend, reference);
    let rows = db
        .query_all_raw(Statement::from_sql_and_values(backend, sql, [value]))
        .await?;
    if rows.is_empty() {
        return Err(reads::not_found(reference));
    }
    record_from_rows(&rows)
}

/// [`load_record`] on PostgreSQL, sent with the snapshot `known` of the
/// record kept for the incident: "unchanged" when the database is still at
/// that snapshot, else the record and the snapshot it was read at. One
/// statement either way.
async fn load_record_since(
    db: &DatabaseConnection,
    reference: IncidentRef,
    known: Option<Arc<str>>,
) -> Result<read_cache::SinceSnapshot, ServiceError> {
    let backend = db.get_database_backend();
    let (sql, value) = incident_record_statement(backend, reference);
    let sent = sea_orm::Value::from(known.as_deref().map(str::to_string));
    let rows = db
        .query_all_raw(Statement::from_sql_and_values(backend, sql, [value, sent]))
        .await?;
    let first = rows.first().ok_or_else(|| {
        ServiceError::Internal(anyhow::anyhow!("the incident read answered no row"))
    })?;
    let snapshot: String = first.try_get("", "snapshot")?;
    if known.as_deref() == Some(snapshot.as_str()) {
        return Ok(read_cache::SinceSnapshot::Unchanged);
    }
    if !reads::holds(first, "A_")? {
        return Err(reads::not_found(reference));
    }
    Ok(read_cache::SinceSnapshot::Read {
        snapshot,
        record: Box::new(record_from_rows(&rows)?),
    })
}

/// The record in the rows of [`incident_record_sql`] (at least one, the
/// first holding the incident).
fn record_from_rows(
    rows: &[sea_orm::QueryResult],
) -> Result<read_cache::IncidentRecord, ServiceError> {
    let first = &rows[0];
    let incident = incident::Model::from_query_result(first, "A_")?;
    let current_sitrep = if reads::holds(first, "B_")? {
        Some(sitrep::Model::from_query_result(first, "B_")?)
    } else {
        None
    };
    let mut current_roles = Vec::new();
    for row in rows {
        if reads::holds(row, "C_")? {
            current_roles.push(role_assignment::Model::from_query_result(row, "C_")?);
        }
    }
    let count = |name: &str| -> Result<u64, ServiceError> {
        Ok(u64::try_from(first.try_get::<i64>("", name)?).unwrap_or(0))
    };
    let counts = IncidentCounts {
        timeline_events: count("n_timeline_events")?,
        sitreps: u64::try_from(incident.sitrep_count).unwrap_or(0),
        status_updates: count("n_status_updates")?,
        cleanup_items: count("n_cleanup_items")?,
        cleanup_items_pending: count("n_cleanup_items_pending")?,
        remediation_items: count("n_remediation_items")?,
    };
    Ok(read_cache::IncidentRecord {
        incident,
        current_sitrep,
        current_roles,
        counts,
        derived: Default::default(),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::CleanupStatus;

    #[test]
    fn the_pending_count_names_the_stored_pending_status() {
        assert!(
            COUNTS[3]
                .1
                .ends_with(&format!("'{}'", CleanupStatus::Pending.as_str()))
        );
    }
}
