//! Sitreps: immutable, gap-free versions of what is known, and what changed
//! between two of them.

use chrono::{DateTime, Utc};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, FromQueryResult, IntoActiveModel, QueryFilter,
    QueryOrder, Statement, sea_query::Expr,
};
use uuid::Uuid;

use super::{
    Context, ServiceError, Written, find_incident, insert_model, new_id, reads, same_incident,
    status_updates::{self, NewStatusUpdate, StatusUpdateWrite},
    store, system_event,
};
use crate::{
    db,
    domain::{IncidentRef, TimelineKind},
    entities::{delivery, incident, role_assignment, sitrep, status_update},
    ingest::SitrepRecord,
};

#[derive(Debug, Clone)]
pub struct NewSitrep {
    pub summary: String,
    pub customer_impact: Option<String>,
    pub open_issues: Vec<String>,
    pub resolved_issues: Vec<String>,
    pub current_actions: Vec<String>,
    pub next_update_due: Option<DateTime<Utc>>,
    pub author: Option<String>,
    /// A public status update to post in the same transaction.
    pub status_update: Option<NewStatusUpdate>,
}

pub use crate::entities::sitrep::RoleSnapshot;

/// A sitrep to store.
#[derive(Debug, Clone)]
pub enum SitrepWrite {
    /// The next version, issued now (the API): the current role holders
    /// captured, an optional public status update posted with it, and a
    /// timeline entry.
    Issue(NewSitrep),
    /// Brought in by an import with its own id and version: matched by id
    /// and updated when it differs. The incident's sitrep count covers its
    /// version.
    Import(SitrepRecord),
}

/// Issue the next version. The incident row is locked while the version is
/// taken, so concurrent writers get 1, 2, 3 … with no gap or duplicate.
pub async fn create(
    ctx: &Context,
    reference: IncidentRef,
    new: NewSitrep,
) -> Result<(sitrep::Model, Option<status_update::Model>), ServiceError> {
    let now = ctx.now();
    let txn = ctx.begin_write().await?;
    let incident = find_incident(&txn, reference).await?;
    let (written, posted) = write(&txn, &incident, SitrepWrite::Issue(new), now).await?;
    let model = written.model;
    super::channels::enqueue_sitrep(&txn, ctx, &incident, &model, now).await?;
    txn.commit().await?;
    tracing::info!(incident.ref = %IncidentRef::display(incident.number), sitrep.version = model.version, "Sitrep issued");
    Ok((model, posted))
}

/// Store a sitrep of `incident` inside the caller's transaction, with the
/// status update posted with it: the one writer of sitreps. Delivering it
/// to the incident's channels is the caller's (an import delivers nothing).
pub async fn write<C: ConnectionTrait>(
    db: &C,
    incident: &incident::Model,
    write: SitrepWrite,
    now: DateTime<Utc>,
) -> Result<(Written<sitrep::Model>, Option<status_update::Model>), ServiceError> {
    match write {
        SitrepWrite::Issue(new) => write_issue(db, incident, new, now).await,
        SitrepWrite::Import(s) => Ok((write_import(db, incident, s, now).await?, None)),
    }
}

/// [`SitrepWrite::Issue`]: the next version with the current role holders
/// and the status update posted with it, and its timeline entry.
async fn write_issue<C: ConnectionTrait>(
    db: &C,
    incident: &incident::Model,
    new: NewSitrep,
    now: DateTime<Utc>,
) -> Result<(Written<sitrep::Model>, Option<status_update::Model>), ServiceError> {
    let version = db::next_sitrep_version(db, incident.id).await?;
    let roles = current_roles(db, incident.id).await?;
    let posted = match new.status_update {
        Some(update) => Some(
            status_updates::write(db, incident, StatusUpdateWrite::Post(update), now)
                .await?
                .model,
        ),
        None => None,
    };
    let model = sitrep::Model {
        id: new_id(),
        incident_id: incident.id,
        version,
        summary: new.summary,
        customer_impact: new.customer_impact,
        roles: roles.into(),
        open_issues: new.open_issues.into(),
        resolved_issues: new.resolved_issues.into(),
        current_actions: new.current_actions.into(),
        next_update_due: new.next_update_due,
        author: new.author,
        status_update_id: posted.as_ref().map(|p| p.id),
        created_at: now,
        updated_at: now,
    };
    let written = store(db, None, model, |_| {}).await?;
    record_issued(db, &written.model, now).await?;
    Ok((written, posted))
}

/// Who holds which role now, as a sitrep captures them.
async fn current_roles<C: ConnectionTrait>(
    db: &C,
    incident_id: Uuid,
) -> Result<Vec<RoleSnapshot>, ServiceError> {
    Ok(role_assignment::Entity::find()
        .filter(role_assignment::Column::IncidentId.eq(incident_id))
        .filter(role_assignment::Column::RelievedAt.is_null())
        .order_by_asc(role_assignment::Column::AssignedAt)
        .all(db)
        .await?
        .into_iter()
        .map(|r| RoleSnapshot {
            role: r.role,
            person: r.person,
        })
        .collect())
}

/// The timeline entry of an issued sitrep: its version, author and the
/// first line of its summary.
async fn record_issued<C: ConnectionTrait>(
    db: &C,
    model: &sitrep::Model,
    now: DateTime<Utc>,
) -> Result<(), ServiceError> {
    let first_line = model.summary.lines().next().unwrap_or_default();
    let by = model
        .author
        .as_deref()
        .map(|a| format!(" by {a}"))
        .unwrap_or_default();
    let event = system_event(
        model.incident_id,
        now,
        TimelineKind::Communication,
        format!("Sitrep v{} issued{by}: {first_line}", model.version),
    );
    insert_model(db, event.into_active_model()).await?;
    Ok(())
}

/// [`SitrepWrite::Import`]: the sitrep stored under its own id (refused if
/// another one holds its version), and the incident's sitrep count raised
/// to cover it.
async fn write_import<C: ConnectionTrait>(
    db: &C,
    incident: &incident::Model,
    s: SitrepRecord,
    now: DateTime<Utc>,
) -> Result<Written<sitrep::Model>, ServiceError> {
    let stored = sitrep::Entity::find_by_id(s.id).one(db).await?;
    same_incident(stored.as_ref().map(|e| e.incident_id), incident.id)?;
    let taken = sitrep::Entity::find()
        .filter(sitrep::Column::IncidentId.eq(incident.id))
        .filter(sitrep::Column::Version.eq(s.version))
        .filter(sitrep::Column::Id.ne(s.id))
        .one(db)
        .await?;
    if taken.is_some() {
        return Err(ServiceError::Conflict {
            detail: format!(
                "the incident already has a sitrep version {} with another id",
                s.version
            ),
            field: Some("version".into()),
            details: None,
        });
    }
    let version = s.version;
    let next = sitrep::Model {
        id: s.id,
        incident_id: incident.id,
        version,
        summary: s.summary,
        customer_impact: s.customer_impact,
        roles: s.roles.into(),
        open_issues: s.open_issues.into(),
        resolved_issues: s.resolved_issues.into(),
        current_actions: s.current_actions.into(),
        next_update_due: s.next_update_due,
        author: s.author,
        status_update_id: s.status_update_id,
        created_at: s.created_at,
        updated_at: stored.as_ref().map_or(now, |e| e.updated_at),
    };
    let written = store(db, stored, next, |m| m.updated_at = now).await?;
    // The next version issued follows the highest one stored.
    incident::Entity::update_many()
        .col_expr(incident::Column::SitrepCount, Expr::value(version))
        .filter(incident::Column::Id.eq(incident.id))
        .filter(incident::Column::SitrepCount.lt(version))
        .exec(db)
        .await?;
    Ok(written)
}

/// Every version of the incident's sitrep, oldest first, each with its
/// deliveries to the incident's channels (by when they were queued, then
/// recipient): one statement, which also tells a missing incident.
pub async fn list(
    ctx: &Context,
    reference: IncidentRef,
) -> Result<Vec<(sitrep::Model, Vec<delivery::Model>)>, ServiceError> {
    let backend = ctx.db.get_database_backend();
    let (key, value) = match reference {
        IncidentRef::Id(id) => ("id", sea_orm::Value::from(id)),
        IncidentRef::Number(n) => ("number", sea_orm::Value::from(n)),
    };
    let sql = format!(
        "SELECT p.id AS \"P_id\", {sitrep}, {delivery} FROM incidents p \
         LEFT JOIN sitreps s ON s.incident_id = p.id \
         LEFT JOIN deliveries d ON d.sitrep_id = s.id \
         WHERE p.{key} = {placeholder} \
         ORDER BY s.version, d.created_at, d.recipient",
        sitrep = reads::aliased::<sitrep::Entity>("s", "A_"),
        delivery = reads::aliased::<delivery::Entity>("d", "B_"),
        placeholder = reads::first_parameter(backend),
    );
    let rows = ctx
        .db
        .query_all_raw(Statement::from_sql_and_values(backend, sql, [value]))
        .await?;
    if rows.is_empty() {
        return Err(reads::not_found(reference));
    }
    let mut listed: Vec<(sitrep::Model, Vec<delivery::Model>)> = Vec::new();
    for row in &rows {
        if !reads::holds(row, "A_")? {
            continue;
        }
        let id: Uuid = row.try_get("A_", "id")?;
        if listed.last().is_none_or(|(s, _)| s.id != id) {
            listed.push((sitrep::Model::from_query_result(row, "A_")?, Vec::new()));
        }
        if reads::holds(row, "B_")? {
            let delivered = delivery::Model::from_query_result(row, "B_")?;
            if let Some((_, deliveries)) = listed.last_mut() {
                deliveries.push(delivered);
            }
        }
    }
    Ok(listed)
}

/// Every version of the incident's sitrep, oldest first.
pub async fn list_for<C: ConnectionTrait>(
    db: &C,
    incident_id: Uuid,
) -> Result<Vec<sitrep::Model>, ServiceError> {
    Ok(sitrep::Entity::find()
        .filter(sitrep::Column::IncidentId.eq(incident_id))
        .order_by_asc(sitrep::Column::Version)
        .all(db)
        .await?)
}

pub async fn get(
    ctx: &Context,
    reference: IncidentRef,
    version: i32,
) -> Result<sitrep::Model, ServiceError> {
    let incident = find_incident(&ctx.db, reference).await?;
    sitrep::Entity::find()
        .filter(sitrep::Column::IncidentId.eq(incident.id))
        .filter(sitrep::Column::Version.eq(version))
        .one(&ctx.db)
        .await?
        .ok_or_else(|| {
            ServiceError::NotFound(format!(
                "sitrep version {version} of {}",
                IncidentRef::display(incident.number)
            ))
        })
}

/// How one field changed between two versions.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldChange {
    pub field: &'static str,
    pub before: Option<String>,
    pub after: Option<String>,
    /// List fields: entries that appeared.
    pub added: Vec<String>,
    /// List fields: entries that went away.
    pub removed: Vec<String>,
    /// Text fields: a unified line diff.
    pub diff: Option<String>,
}

pub async fn diff(
    ctx: &Context,
    reference: IncidentRef,
    from: i32,
    to: i32,
) -> Result<(sitrep::Model, sitrep::Model, Vec<FieldChange>), ServiceError> {
    let a = get(ctx, reference, from).await?;
    let b = get(ctx, reference, to).await?;
    let changes = compare(&a, &b);
    Ok((a, b, changes))
}

/// Field-by-field comparison of two sitreps.
pub fn compare(a: &sitrep::Model, b: &sitrep::Model) -> Vec<FieldChange> {
    let mut changes = Vec::new();
    text_change(&mut changes, "summary", Some(&a.summary), Some(&b.summary));
    text_change(
        &mut changes,
        "customer_impact",
        a.customer_impact.as_ref(),
        b.customer_impact.as_ref(),
    );
    for (field, before, after) in [
        ("open_issues", &a.open_issues, &b.open_issues),
        ("resolved_issues", &a.resolved_issues, &b.resolved_issues),
        ("current_actions", &a.current_actions, &b.current_actions),
    ] {
        list_change(&mut changes, field, before.to_vec(), after.to_vec());
    }
    let show = |roles: Vec<RoleSnapshot>| -> Vec<String> {
        roles
            .into_iter()
            .map(|r| format!("{}: {}", r.role, r.person))
            .collect()
    };
    list_change(
        &mut changes,
        "roles",
        show(a.roles.to_vec()),
        show(b.roles.to_vec()),
    );
    let time = |t: Option<DateTime<Utc>>| t.map(|t| t.to_rfc3339());
    if a.next_update_due != b.next_update_due {
        changes.push(FieldChange {
            field: "next_update_due",
            before: time(a.next_update_due),
            after: time(b.next_update_due),
            added: Vec::new(),
            removed: Vec::new(),
            diff: None,
        });
    }
    if a.author != b.author {
        changes.push(FieldChange {
            field: "author",
            before: a.author.clone(),
            after: b.author.clone(),
            added: Vec::new(),
            removed: Vec::new(),
            diff: None,
        });
    }
    changes
}

fn text_change(
    out: &mut Vec<FieldChange>,
    field: &'static str,
    a: Option<&String>,
    b: Option<&String>,
) {
    if a == b {
        return;
    }
    let before = a.cloned().unwrap_or_default();
    let after = b.cloned().unwrap_or_default();
    let diff = similar::TextDiff::from_lines(&before, &after)
        .unified_diff()
        .context_radius(2)
        .to_string();
    out.push(FieldChange {
        field,
        before: a.cloned(),
        after: b.cloned(),
        added: Vec::new(),
        removed: Vec::new(),
        diff: Some(diff),
    });
}

fn list_change(out: &mut Vec<FieldChange>, field: &'static str, a: Vec<String>, b: Vec<String>) {
    if a == b {
        return;
    }
    let added: Vec<String> = b.iter().filter(|x| !a.contains(x)).cloned().collect();
    let removed: Vec<String> = a.iter().filter(|x| !b.contains(x)).cloned().collect();
    out.push(FieldChange {
        field,
        before: None,
        after: None,
        added,
        removed,
        diff: None,
    });
}
