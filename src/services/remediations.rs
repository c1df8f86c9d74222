//! Remediation items: tracked to done, with every change in their history,
//! long after the incidents they came from are closed.

use std::collections::HashMap;

use chrono::{DateTime, Days, NaiveDate, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DbBackend, EntityTrait,
    IntoActiveModel, QueryFilter, QueryOrder, QuerySelect, Statement,
    sea_query::{Expr, ExprTrait, Func, LikeExpr},
};
use uuid::Uuid;

use super::{
    Context, Outcome, ServiceError, Written, check_if_match, find_incident, insert_model, new_id,
    pagination::{Page, PageRequest},
    update_versioned,
};
use crate::{
    config::RemediationDueDays,
    db,
    domain::{IncidentRef, Priority, RemediationKind, RemediationRef, RemediationStatus},
    entities::{incident, remediation_history, remediation_incident, remediation_item},
    ingest::RemediationRecord,
};

/// A new remediation item, already checked field by field.
#[derive(Debug, Clone)]
pub struct NewRemediation {
    pub title: String,
    pub description: Option<String>,
    pub kind: RemediationKind,
    pub priority: Priority,
    pub owner: Option<String>,
    pub team: Option<String>,
    /// Unset: today plus the priority's default period.
    pub due_date: Option<NaiveDate>,
    pub status: RemediationStatus,
    pub reason: Option<String>,
    pub tracker_url: Option<String>,
    /// At least one.
    pub incidents: Vec<IncidentRef>,
}

/// `None`: unchanged; `Some(None)`: cleared; `Some(Some(v))`: set.
pub type Change<T> = Option<Option<T>>;

#[derive(Debug, Clone, Default)]
pub struct RemediationChanges {
    pub title: Option<String>,
    pub description: Change<String>,
    pub kind: Option<RemediationKind>,
    pub priority: Option<Priority>,
    pub owner: Change<String>,
    pub team: Change<String>,
    pub due_date: Change<NaiveDate>,
    pub status: Option<RemediationStatus>,
    pub reason: Change<String>,
    pub tracker_url: Change<String>,
}

/// An item with what is derived from its links and the clock.
#[derive(Debug, Clone)]
pub struct RemediationView {
    pub item: remediation_item::Model,
    /// `INC-n` of every linked incident, in number order.
    pub incidents: Vec<String>,
    pub overdue: bool,
}

/// An item with its history, oldest change first.
#[derive(Debug, Clone)]
pub struct RemediationDetail {
    pub view: RemediationView,
    pub history: Vec<remediation_history::Model>,
}

#[derive(Debug, Clone, Default)]
pub struct RemediationFilter {
    pub statuses: Vec<RemediationStatus>,
    pub owner: Option<String>,
    pub team: Option<String>,
    pub priority: Option<Priority>,
    pub kind: Option<RemediationKind>,
    pub incident: Option<IncidentRef>,
    pub overdue: Option<bool>,
    pub due_before: Option<NaiveDate>,
    pub due_after: Option<NaiveDate>,
    pub q: Option<String>,
}

fn default_due(
    days: &RemediationDueDays,
    priority: Priority,
    today: NaiveDate,
) -> Option<NaiveDate> {
    let d = match priority {
        Priority::P0 => days.p0,
        Priority::P1 => days.p1,
        Priority::P2 => days.p2,
        Priority::P3 => days.p3,
    };
    d.filter(|&d| d > 0)
        .and_then(|d| today.checked_add_days(Days::new(u64::from(d))))
}

/// The open statuses, spelled out (not `NOT IN` the closed ones) so the
/// planner can range-scan the status indexes.
const OPEN: [RemediationStatus; 3] = [
    RemediationStatus::Open,
    RemediationStatus::InProgress,
    RemediationStatus::Blocked,
];

impl Context {
    pub fn today(&self) -> NaiveDate {
        self.now().date_naive()
    }

    /// Due date passed and neither done nor decided against.
    pub fn remediation_overdue(&self, item: &remediation_item::Model) -> bool {
        !item.status.is_closed() && item.due_date.is_some_and(|due| due < self.today())
    }

    fn remediation_overdue_condition(&self) -> Condition {
        // No NULL may reach this condition: `NOT` of it must hold for items
        // without a due date.
        Condition::all()
            .add(remediation_item::Column::Status.is_in(OPEN))
            .add(remediation_item::Column::DueDate.is_not_null())
            .add(remediation_item::Column::DueDate.lt(self.today()))
    }
}

fn check_status_reason(
    status: RemediationStatus,
    reason: &Option<String>,
) -> Result<(), ServiceError> {
    if status == RemediationStatus::WontDo && reason.is_none() {
        return Err(ServiceError::validation(
            "reason",
            "a remediation item can only be `wont_do` with a `reason` saying why",
        ));
    }
    Ok(())
}

/// Look an item up; with `lock`, inside a write transaction, its row stays
/// locked until commit (`FOR UPDATE` on PostgreSQL; on SQLite the writer's
/// turn already excludes other writes), so a read-modify-write of the row
/// is never raced into a 412 the client did not ask for.
async fn find_item<C: ConnectionTrait>(
    db: &C,
    reference: RemediationRef,
    lock: bool,
) -> Result<remediation_item::Model, ServiceError> {
    let mut query = match reference {
        RemediationRef::Id(id) => remediation_item::Entity::find_by_id(id),
        RemediationRef::Number(n) => {
            remediation_item::Entity::find().filter(remediation_item::Column::Number.eq(n))
        }
    };
    if lock {
        query = query.lock_exclusive();
    }
    query.one(db).await?.ok_or_else(|| {
        ServiceError::NotFound(match reference {
            RemediationRef::Id(id) => format!("remediation item {id}"),
            RemediationRef::Number(n) => format!("remediation item {}", RemediationRef::display(n)),
        })
    })
}

/// The `INC-n` references linked to each item.
async fn incident_refs<C: ConnectionTrait>(
    db: &C,
    items: &[Uuid],
) -> Result<HashMap<Uuid, Vec<String>>, ServiceError> {
    let mut refs: HashMap<Uuid, Vec<(i64, String)>> = HashMap::new();
    if items.is_empty() {
        return Ok(HashMap::new());
    }
    for chunk in items.chunks(500) {
        let rows: Vec<(Uuid, i64)> = remediation_incident::Entity::find()
            .select_only()
            .column(remediation_incident::Column::RemediationId)
            .column(incident::Column::Number)
            .inner_join(incident::Entity)
            .filter(remediation_incident::Column::RemediationId.is_in(chunk.iter().copied()))
            .into_tuple()
            .all(db)
            .await?;
        for (item, number) in rows {
            refs.entry(item)
                .or_default()
                .push((number, IncidentRef::display(number)));
        }
    }
    Ok(refs
        .into_iter()
        .map(|(k, mut v)| {
            v.sort();
            (k, v.into_iter().map(|(_, r)| r).collect())
        })
        .collect())
}

async fn views<C: ConnectionTrait>(
    ctx: &Context,
    db: &C,
    items: Vec<remediation_item::Model>,
) -> Result<Vec<RemediationView>, ServiceError> {
    let ids: Vec<Uuid> = items.iter().map(|i| i.id).collect();
    let mut refs = incident_refs(db, &ids).await?;
    Ok(items
        .into_iter()
        .map(|item| RemediationView {
            incidents: refs.remove(&item.id).unwrap_or_default(),
            overdue: ctx.remediation_overdue(&item),
            item,
        })
        .collect())
}

fn history(
    item: Uuid,
    at: DateTime<Utc>,
    actor: &str,
    field: &str,
    old: Option<String>,
    new: Option<String>,
) -> remediation_history::Model {
    remediation_history::Model {
        id: new_id(),
        remediation_id: item,
        changed_at: at,
        actor: actor.to_string(),
        field: field.to_string(),
        old_value: old,
        new_value: new,
    }
}

async fn write_history<C: ConnectionTrait>(
    txn: &C,
    entries: Vec<remediation_history::Model>,
) -> Result<(), ServiceError> {
    if entries.is_empty() {
        return Ok(());
    }
    remediation_history::Entity::insert_many(
        entries
            .into_iter()
            .map(|e| e.into_active_model().reset_all()),
    )
    .exec_without_returning(txn)
    .await?;
    Ok(())
}

/// Move one item into (`delta` = 1) or out of (-1) its count group.
async fn bump_count<C: ConnectionTrait>(
    txn: &C,
    item: &remediation_item::Model,
    delta: i64,
) -> Result<(), ServiceError> {
    let backend = txn.get_database_backend();
    let (a, b, c, d) = if backend == DbBackend::Postgres {
        ("$1", "$2", "$3", "$4")
    } else {
        ("?1", "?2", "?3", "?4")
    };
    let sql = format!(
        "INSERT INTO remediation_counts (team, priority, status, count) VALUES ({a}, {b}, {c}, {d}) \
         ON CONFLICT (team, priority, status) DO UPDATE SET count = remediation_counts.count + excluded.count"
    );
    let team = item.team.clone().unwrap_or_default();
    txn.execute_raw(Statement::from_sql_and_values(
        backend,
        sql,
        [
            team.into(),
            item.priority.into(),
            item.status.into(),
            delta.into(),
        ],
    ))
    .await?;
    Ok(())
}

/// Recompute the count groups from the items, for a bulk load that writes
/// items without [`write`] (the remediation bench's data set). The service
/// itself keeps the groups in step item by item and never needs this.
pub async fn rebuild_counts<C: ConnectionTrait>(db: &C) -> Result<(), ServiceError> {
    let backend = db.get_database_backend();
    db.execute_raw(Statement::from_string(
        backend,
        "DELETE FROM remediation_counts",
    ))
    .await?;
    db.execute_raw(Statement::from_string(
        backend,
        "INSERT INTO remediation_counts (team, priority, status, count) \
         SELECT COALESCE(team, ''), priority, status, COUNT(*) FROM remediation_items \
         GROUP BY COALESCE(team, ''), priority, status",
    ))
    .await?;
    Ok(())
}

/// Resolve incident references inside a transaction; a missing one is a 422
/// naming its position.
async fn resolve_incidents<C: ConnectionTrait>(
    txn: &C,
    field: &str,
    refs: &[IncidentRef],
) -> Result<Vec<incident::Model>, ServiceError> {
    let mut found = Vec::with_capacity(refs.len());
    for (i, reference) in refs.iter().enumerate() {
        match find_incident(txn, *reference).await {
            Ok(incident) => {
                if !found.iter().any(|f: &incident::Model| f.id == incident.id) {
                    found.push(incident);
                }
            }
            Err(ServiceError::NotFound(what)) => {
                return Err(ServiceError::validation(
                    format!("{field}[{i}]"),
                    format!("{what} does not exist"),
                ));
            }
            Err(err) => return Err(err),
        }
    }
    Ok(found)
}

/// A remediation item, or its links, to store.
#[derive(Debug, Clone)]
pub enum RemediationWrite<'a> {
    /// A new item (the API) linked to `incidents` (at least one); without
    /// a due date, due after its priority's default period.
    Create {
        new: NewRemediation,
        due_days: &'a RemediationDueDays,
    },
    /// A change made now (the API), `If-Match` checked: the status moves
    /// only as [`RemediationStatus::can_become`] allows, and `closed_at`
    /// follows it.
    Change {
        reference: RemediationRef,
        if_match: Option<&'a str>,
        changes: RemediationChanges,
    },
    /// Link the item to one more incident (`add`), or remove a link (the
    /// last one cannot go).
    Link {
        reference: RemediationRef,
        incident: IncidentRef,
        add: bool,
    },
    /// Brought in by an import with its own id and times: matched by id,
    /// updated when it differs, and linked to `incident`.
    Import {
        record: RemediationRecord,
        incident: &'a incident::Model,
    },
}

pub async fn create(
    ctx: &Context,
    new: NewRemediation,
    actor: &str,
) -> Result<RemediationView, ServiceError> {
    let txn = ctx.begin_write().await?;
    let create = RemediationWrite::Create {
        new,
        due_days: &ctx.settings.remediation_due_days,
    };
    let item = write(&txn, create, actor, ctx.now()).await?.model;
    let view = views(ctx, &txn, vec![item]).await?.remove(0);
    txn.commit().await?;
    tracing::info!(remediation.ref = %RemediationRef::display(view.item.number), "Remediation item created");
    Ok(view)
}

/// Store a remediation item, or its links, inside the caller's
/// transaction: the one writer of remediation items. A `wont_do` item
/// needs a reason; every change goes into the item's history under
/// `actor`, and the count groups of the summary follow the item.
pub async fn write<C: ConnectionTrait>(
    db: &C,
    write: RemediationWrite<'_>,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<Written<remediation_item::Model>, ServiceError> {
    let mut given_if_match = None;
    let imported = matches!(write, RemediationWrite::Import { .. });
    let (current, next, incidents) = match write {
        RemediationWrite::Create { new, due_days } => {
            if new.incidents.is_empty() {
                return Err(ServiceError::validation(
                    "incidents",
                    "a remediation item links to at least one incident",
                ));
            }
            // A due date in the past is accepted: follow-ups entered after
            // the fact (history brought in from another tool) are overdue
            // from the start.
            let due_date = new
                .due_date
                .or_else(|| default_due(due_days, new.priority, now.date_naive()));
            check_status_reason(new.status, &new.reason)?;
            let incidents = resolve_incidents(db, "incidents", &new.incidents).await?;
            let item = remediation_item::Model {
                id: new_id(),
                number: 0,
                title: new.title,
                description: new.description,
                kind: new.kind,
                priority: new.priority,
                owner: new.owner,
                team: new.team,
                due_date,
                status: new.status,
                reason: new.reason,
                tracker_url: new.tracker_url,
                closed_at: new.status.is_closed().then_some(now),
                version: 1,
                created_at: now,
                updated_at: now,
            };
            (None, item, incidents)
        }
        RemediationWrite::Change {
            reference,
            if_match,
            changes,
        } => {
            let current = find_item(db, reference, true).await?;
            check_if_match(if_match, current.version)?;
            given_if_match = if_match;
            let next = changed_now(&current, changes, now)?;
            (Some(current), next, Vec::new())
        }
        RemediationWrite::Link {
            reference,
            incident,
            add,
        } => return change_links(db, reference, incident, actor, add, now).await,
        RemediationWrite::Import {
            record: r,
            incident,
        } => {
            let stored = remediation_item::Entity::find_by_id(r.id).one(db).await?;
            let next = remediation_item::Model {
                id: r.id,
                number: stored.as_ref().map_or(0, |e| e.number),
                title: r.title,
                description: r.description,
                kind: r.kind,
                priority: r.priority,
                owner: r.owner,
                team: r.team,
                due_date: r.due_date,
                status: r.status,
                reason: r.reason,
                tracker_url: r.tracker_url,
                closed_at: r.closed_at,
                version: stored.as_ref().map_or(1, |e| e.version),
                created_at: r.created_at,
                updated_at: stored.as_ref().map_or(now, |e| e.updated_at),
            };
            (stored, next, vec![incident.clone()])
        }
    };
    check_status_reason(next.status, &next.reason)?;
    let written = match current {
        None => {
            let mut item = next;
            item.number = db::next_counter(db, "remediation").await?;
            insert_model(db, item.clone().into_active_model()).await?;
            bump_count(db, &item, 1).await?;
            remediation_incident::Entity::insert_many(incidents.iter().map(|i| {
                remediation_incident::Model {
                    remediation_id: item.id,
                    incident_id: i.id,
                    created_at: now,
                }
                .into_active_model()
                .reset_all()
            }))
            .exec_without_returning(db)
            .await?;
            let mut refs: Vec<(i64, String)> = incidents
                .iter()
                .map(|i| (i.number, IncidentRef::display(i.number)))
                .collect();
            refs.sort();
            let refs: Vec<String> = refs.into_iter().map(|(_, r)| r).collect();
            write_history(
                db,
                vec![history(
                    item.id,
                    now,
                    actor,
                    "created",
                    None,
                    Some(format!("{} ({})", item.title, refs.join(", "))),
                )],
            )
            .await?;
            return Ok(Written {
                model: item,
                outcome: Outcome::Created,
            });
        }
        Some(current) if current == next => Written {
            model: current,
            outcome: Outcome::Unchanged,
        },
        Some(current) => {
            let mut next = next;
            let entries = changes_of(&current, &next, actor, now);
            next.version = current.version + 1;
            next.updated_at = now;
            update_versioned(
                db,
                next.clone().into_active_model().reset_all(),
                (remediation_item::Column::Id, current.id),
                (remediation_item::Column::Version, current.version),
                given_if_match,
            )
            .await?;
            write_history(db, entries).await?;
            if (&current.team, &current.priority, &current.status)
                != (&next.team, &next.priority, &next.status)
            {
                bump_count(db, &current, -1).await?;
                bump_count(db, &next, 1).await?;
            }
            Written {
                model: next,
                outcome: Outcome::Updated,
            }
        }
    };
    // A stored item an import names is linked to its incident too (the
    // link is not counted as a change of the item).
    if imported && let Some(incident) = incidents.first() {
        let reference = RemediationRef::Id(written.model.id);
        let incident = IncidentRef::Id(incident.id);
        let linked = change_links(db, reference, incident, actor, true, now).await?;
        return Ok(Written {
            model: linked.model,
            outcome: written.outcome,
        });
    }
    Ok(written)
}

pub async fn get(
    ctx: &Context,
    reference: RemediationRef,
) -> Result<RemediationDetail, ServiceError> {
    let item = find_item(&ctx.db, reference, false).await?;
    let history = remediation_history::Entity::find()
        .filter(remediation_history::Column::RemediationId.eq(item.id))
        .order_by_asc(remediation_history::Column::ChangedAt)
        .order_by_asc(remediation_history::Column::Id)
        .all(&ctx.db)
        .await?;
    let view = views(ctx, &ctx.db, vec![item]).await?.remove(0);
    Ok(RemediationDetail { view, history })
}

/// Stands in for "no due date" in the sort key, so undated items come last.
/// A four-digit year: SQLite compares dates as text.
fn no_due_date() -> NaiveDate {
    NaiveDate::from_ymd_opt(9999, 12, 31).expect("a valid date")
}

/// The sort key: due date (items without one last), then number.
fn sort_due() -> Expr {
    Expr::expr(Func::coalesce([
        Expr::col(remediation_item::Column::DueDate),
        Expr::val(no_due_date()),
    ]))
}

pub async fn list(
    ctx: &Context,
    filter: RemediationFilter,
    page: PageRequest<(NaiveDate, i64)>,
) -> Result<Page<RemediationView>, ServiceError> {
    let mut query = remediation_item::Entity::find();
    if !filter.statuses.is_empty() {
        query =
            query.filter(remediation_item::Column::Status.is_in(filter.statuses.iter().copied()));
    }
    if let Some(owner) = &filter.owner {
        query = query.filter(remediation_item::Column::Owner.eq(owner.as_str()));
    }
    if let Some(team) = &filter.team {
        query = query.filter(remediation_item::Column::Team.eq(team.as_str()));
    }
    if let Some(priority) = filter.priority {
        query = query.filter(remediation_item::Column::Priority.eq(priority));
    }
    if let Some(kind) = filter.kind {
        query = query.filter(remediation_item::Column::Kind.eq(kind));
    }
    if let Some(reference) = filter.incident {
        let incident = find_incident(&ctx.db, reference).await?;
        query = query.filter(
            remediation_item::Column::Id.in_subquery(
                sea_orm::sea_query::Query::select()
                    .column(remediation_incident::Column::RemediationId)
                    .from(remediation_incident::Entity)
                    .and_where(remediation_incident::Column::IncidentId.eq(incident.id))
                    .to_owned(),
            ),
        );
    }
    match filter.overdue {
        Some(true) => query = query.filter(ctx.remediation_overdue_condition()),
        Some(false) => query = query.filter(ctx.remediation_overdue_condition().not()),
        None => {}
    }
    if let Some(before) = filter.due_before {
        query = query.filter(remediation_item::Column::DueDate.lt(before));
    }
    if let Some(after) = filter.due_after {
        query = query.filter(remediation_item::Column::DueDate.gte(after));
    }
    if let Some(q) = filter.q.as_deref().filter(|q| !q.is_empty()) {
        let pattern = format!("%{}%", super::incidents::escape_like(&q.to_lowercase()));
        query = query.filter(
            Condition::any()
                .add(
                    Expr::expr(Func::lower(Expr::col(remediation_item::Column::Title)))
                        .like(LikeExpr::new(pattern.clone()).escape('\\')),
                )
                .add(
                    Expr::expr(Func::lower(Expr::col(
                        remediation_item::Column::Description,
                    )))
                    .like(LikeExpr::new(pattern).escape('\\')),
                ),
        );
    }
    if let Some((due, number)) = page.after {
        query = query.filter(
            Condition::any().add(sort_due().gt(due)).add(
                Condition::all()
                    .add(sort_due().eq(due))
                    .add(remediation_item::Column::Number.gt(number)),
            ),
        );
    }
    let rows = query
        .order_by_asc(sort_due())
        .order_by_asc(remediation_item::Column::Number)
        .limit(page.limit + 1)
        .all(&ctx.db)
        .await?;
    let page = Page::from_rows(rows, page.limit, |i| {
        (i.due_date.unwrap_or_else(no_due_date), i.number)
    });
    let items = views(ctx, &ctx.db, page.items).await?;
    Ok(Page {
        items,
        next_cursor: page.next_cursor,
    })
}

fn show<T: ToString>(v: &Option<T>) -> Option<String> {
    v.as_ref().map(ToString::to_string)
}

pub async fn update(
    ctx: &Context,
    reference: RemediationRef,
    if_match: Option<&str>,
    changes: RemediationChanges,
    actor: &str,
) -> Result<RemediationView, ServiceError> {
    let txn = ctx.begin_write().await?;
    let change = RemediationWrite::Change {
        reference,
        if_match,
        changes,
    };
    let item = write(&txn, change, actor, ctx.now()).await?.model;
    txn.commit().await?;
    Ok(views(ctx, &ctx.db, vec![item]).await?.remove(0))
}

/// The item a change made now leaves, with the status rules applied.
fn changed_now(
    current: &remediation_item::Model,
    changes: RemediationChanges,
    now: DateTime<Utc>,
) -> Result<remediation_item::Model, ServiceError> {
    let old_status: RemediationStatus = current.status;
    let mut next = current.clone();
    if let Some(v) = changes.title {
        next.title = v;
    }
    if let Some(v) = changes.description {
        next.description = v;
    }
    if let Some(v) = changes.kind {
        next.kind = v;
    }
    if let Some(v) = changes.priority {
        next.priority = v;
    }
    if let Some(v) = changes.owner {
        next.owner = v;
    }
    if let Some(v) = changes.team {
        next.team = v;
    }
    if let Some(v) = changes.due_date {
        next.due_date = v;
    }
    if let Some(v) = changes.tracker_url {
        next.tracker_url = v;
    }
    let new_status = changes.status.unwrap_or(old_status);
    if !old_status.can_become(new_status) {
        return Err(ServiceError::validation(
            "status",
            format!("a `{old_status}` item cannot become `{new_status}`: reopen it (`open`) first"),
        ));
    }
    next.status = new_status;
    match changes.reason {
        Some(v) => next.reason = v,
        // Reopening or finishing drops the reason for not doing it.
        None if new_status != RemediationStatus::WontDo => next.reason = None,
        None => {}
    }
    check_status_reason(new_status, &next.reason)?;
    if new_status.is_closed() != old_status.is_closed()
        || (new_status.is_closed() && new_status != old_status)
    {
        next.closed_at = new_status.is_closed().then_some(now);
    }
    Ok(next)
}

/// The history entries of a change, one per field that changed.
fn changes_of(
    current: &remediation_item::Model,
    next: &remediation_item::Model,
    actor: &str,
    now: DateTime<Utc>,
) -> Vec<remediation_history::Model> {
    let mut entries = Vec::new();
    let mut record = |field: &str, old: Option<String>, new: Option<String>| {
        if old != new {
            entries.push(history(current.id, now, actor, field, old, new));
        }
    };
    record(
        "title",
        Some(current.title.clone()),
        Some(next.title.clone()),
    );
    record(
        "description",
        current.description.clone(),
        next.description.clone(),
    );
    record(
        "kind",
        Some(current.kind.to_string()),
        Some(next.kind.to_string()),
    );
    record(
        "priority",
        Some(current.priority.to_string()),
        Some(next.priority.to_string()),
    );
    record("owner", current.owner.clone(), next.owner.clone());
    record("team", current.team.clone(), next.team.clone());
    record("due_date", show(&current.due_date), show(&next.due_date));
    record(
        "status",
        Some(current.status.to_string()),
        Some(next.status.to_string()),
    );
    record("reason", current.reason.clone(), next.reason.clone());
    record(
        "tracker_url",
        current.tracker_url.clone(),
        next.tracker_url.clone(),
    );
    entries
}

/// Link an item to one more incident.
pub async fn link(
    ctx: &Context,
    reference: RemediationRef,
    incident: IncidentRef,
    actor: &str,
) -> Result<RemediationView, ServiceError> {
    write_links(ctx, reference, incident, actor, true).await
}

/// Remove a link; the last one cannot go.
pub async fn unlink(
    ctx: &Context,
    reference: RemediationRef,
    incident: IncidentRef,
    actor: &str,
) -> Result<RemediationView, ServiceError> {
    write_links(ctx, reference, incident, actor, false).await
}

async fn write_links(
    ctx: &Context,
    reference: RemediationRef,
    incident: IncidentRef,
    actor: &str,
    add: bool,
) -> Result<RemediationView, ServiceError> {
    let txn = ctx.begin_write().await?;
    let link = RemediationWrite::Link {
        reference,
        incident,
        add,
    };
    let written = write(&txn, link, actor, ctx.now()).await?;
    let view = views(ctx, &txn, vec![written.model]).await?.remove(0);
    txn.commit().await?;
    Ok(view)
}

/// Add or remove one link of an item (see [`RemediationWrite::Link`]).
async fn change_links<C: ConnectionTrait>(
    db: &C,
    reference: RemediationRef,
    incident_ref: IncidentRef,
    actor: &str,
    add: bool,
    now: DateTime<Utc>,
) -> Result<Written<remediation_item::Model>, ServiceError> {
    let item = find_item(db, reference, true).await?;
    let incident = match find_incident(db, incident_ref).await {
        // Linking to a missing incident is a bad request body, not a missing resource.
        Err(ServiceError::NotFound(what)) if add => {
            return Err(ServiceError::validation(
                "incident",
                format!("{what} does not exist"),
            ));
        }
        other => other?,
    };
    let before = incident_refs(db, &[item.id])
        .await?
        .remove(&item.id)
        .unwrap_or_default();
    let label = IncidentRef::display(incident.number);
    let linked = before.contains(&label);
    if add == linked {
        return Ok(Written {
            model: item,
            outcome: Outcome::Unchanged,
        });
    }
    if add {
        insert_model(
            db,
            remediation_incident::Model {
                remediation_id: item.id,
                incident_id: incident.id,
                created_at: now,
            }
            .into_active_model(),
        )
        .await?;
    } else {
        if before.len() == 1 {
            return Err(ServiceError::Conflict {
                detail: format!(
                    "{label} is the only incident {} is linked to; link another first",
                    RemediationRef::display(item.number)
                ),
                field: Some("incident".into()),
                details: None,
            });
        }
        remediation_incident::Entity::delete_many()
            .filter(remediation_incident::Column::RemediationId.eq(item.id))
            .filter(remediation_incident::Column::IncidentId.eq(incident.id))
            .exec(db)
            .await?;
    }
    let after = incident_refs(db, &[item.id])
        .await?
        .remove(&item.id)
        .unwrap_or_default();
    write_history(
        db,
        vec![history(
            item.id,
            now,
            actor,
            "incidents",
            Some(before.join(", ")),
            Some(after.join(", ")),
        )],
    )
    .await?;
    remediation_item::Entity::update_many()
        .col_expr(remediation_item::Column::UpdatedAt, Expr::value(now))
        .filter(remediation_item::Column::Id.eq(item.id))
        .exec(db)
        .await?;
    let mut item = item;
    item.updated_at = now;
    Ok(Written {
        model: item,
        outcome: Outcome::Updated,
    })
}

/// Open, overdue and closed counts for one group.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GroupCounts {
    pub open: u64,
    pub overdue: u64,
    pub closed: u64,
}

#[derive(Debug, Clone)]
pub struct RemediationSummary {
    pub as_of: NaiveDate,
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub totals: GroupCounts,
    pub by_team: Vec<(Option<String>, GroupCounts)>,
    pub by_priority: Vec<(Priority, GroupCounts)>,
    /// Items due within the period (that are done, or whose due date has passed).
    pub due_in_period: u64,
    /// Of those, done on or before their due date.
    pub done_on_time: u64,
    /// `done_on_time / due_in_period`, when anything was due.
    pub completion_rate: Option<f64>,
    /// Median age of open items, in days.
    pub median_open_age_days: Option<f64>,
}

/// Dashboard figures. Counts come from one grouped query over the summary
/// index; the period figures and the median from two more.
pub async fn summary(
    ctx: &Context,
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
) -> Result<RemediationSummary, ServiceError> {
    let today = ctx.today();
    let to = to.unwrap_or(today);
    let from = from.unwrap_or_else(|| to.checked_sub_days(Days::new(90)).unwrap_or(to));
    if from > to {
        return Err(ServiceError::validation(
            "from,to",
            "`from` must not be after `to`",
        ));
    }
    let db = &ctx.db;
    let backend = db.get_database_backend();
    let ph = |n: usize| {
        if backend == DbBackend::Postgres {
            format!("${n}")
        } else {
            format!("?{n}")
        }
    };
    let counts = "SELECT team, priority, status, count FROM remediation_counts WHERE count <> 0";
    // SQLite's planner may prefer a non-covering index for these; the
    // summary's cost rests on the covering ones, so name them there.
    let hint = |index: &str| {
        if backend == DbBackend::Sqlite {
            format!(" INDEXED BY {index}")
        } else {
            String::new()
        }
    };
    let overdue = format!(
        "SELECT team, priority, COUNT(*) FROM remediation_items{hint} \
         WHERE status IN ('open', 'in_progress', 'blocked') AND due_date < {t} \
         GROUP BY team, priority",
        hint = hint(migration::indexes::REMEDIATION_ITEMS_OVERDUE),
        t = ph(1)
    );
    let mut totals = GroupCounts::default();
    let mut by_team: HashMap<Option<String>, GroupCounts> = HashMap::new();
    let mut by_priority: HashMap<Priority, GroupCounts> = HashMap::new();
    let as_u64 = |v: i64| u64::try_from(v).unwrap_or(0);
    for row in db
        .query_all_raw(Statement::from_string(backend, counts))
        .await?
    {
        let team: String = row.try_get_by_index(0)?;
        let team = (!team.is_empty()).then_some(team);
        let priority: Priority = row.try_get_by_index(1)?;
        let status: RemediationStatus = row.try_get_by_index(2)?;
        let n = as_u64(row.try_get_by_index(3)?);
        for g in [
            &mut totals,
            by_team.entry(team.clone()).or_default(),
            by_priority.entry(priority).or_default(),
        ] {
            if status.is_closed() {
                g.closed += n;
            } else {
                g.open += n;
            }
        }
    }
    for row in db
        .query_all_raw(Statement::from_sql_and_values(
            backend,
            overdue,
            [today.into()],
        ))
        .await?
    {
        let team: Option<String> = row.try_get_by_index(0)?;
        let priority: Priority = row.try_get_by_index(1)?;
        let n = as_u64(row.try_get_by_index(2)?);
        for g in [
            &mut totals,
            by_team.entry(team.clone()).or_default(),
            by_priority.entry(priority).or_default(),
        ] {
            g.overdue += n;
        }
    }
    // Due within [from, to]: done ones count whenever done; open ones only
    // once their due date is behind us (they can no longer be on time).
    let period = format!(
        "SELECT COUNT(*), SUM(CASE WHEN status = 'done' AND closed_at < {next_day_of_due} THEN 1 ELSE 0 END) \
         FROM remediation_items{hint} \
         WHERE due_date >= {from} AND due_date <= {to} AND status <> 'wont_do' \
           AND (status = 'done' OR due_date < {today})",
        next_day_of_due = if backend == DbBackend::Postgres {
            "((due_date + 1)::timestamp AT TIME ZONE 'UTC')".to_string()
        } else {
            "date(due_date, '+1 day')".to_string()
        },
        hint = hint(migration::indexes::REMEDIATION_ITEMS_DUE_STATUS_CLOSED),
        from = ph(1),
        to = ph(2),
        today = ph(3),
    );
    let row = db
        .query_one_raw(Statement::from_sql_and_values(
            backend,
            period,
            [from.into(), to.into(), today.into()],
        ))
        .await?;
    let (due_in_period, done_on_time) = match row {
        Some(row) => {
            let a: Option<i64> = row.try_get_by_index(0)?;
            let b: Option<i64> = row.try_get_by_index(1)?;
            (
                u64::try_from(a.unwrap_or(0)).unwrap_or(0),
                u64::try_from(b.unwrap_or(0)).unwrap_or(0),
            )
        }
        None => (0, 0),
    };
    let median_open_age_days = median_open_age(ctx, totals.open).await?;
    let mut by_team: Vec<_> = by_team.into_iter().collect();
    by_team.sort_by(|a, b| a.0.cmp(&b.0));
    let mut by_priority: Vec<_> = by_priority.into_iter().collect();
    by_priority.sort_by_key(|(priority, _)| priority.as_str());
    Ok(RemediationSummary {
        as_of: today,
        from,
        to,
        totals,
        by_team,
        by_priority,
        due_in_period,
        done_on_time,
        #[expect(clippy::cast_precision_loss, reason = "counts far below 2^52")]
        completion_rate: (due_in_period > 0).then(|| done_on_time as f64 / due_in_period as f64),
        median_open_age_days,
    })
}

async fn median_open_age(ctx: &Context, open: u64) -> Result<Option<f64>, ServiceError> {
    if open == 0 {
        return Ok(None);
    }
    let db = &ctx.db;
    let backend = db.get_database_backend();
    // The predicate is the partial index's, word for word, so the offset
    // walks that index instead of sorting the open items (SQLite is told).
    let hint = if backend == DbBackend::Sqlite {
        format!(
            " INDEXED BY {}",
            migration::indexes::REMEDIATION_ITEMS_OPEN_CREATED
        )
    } else {
        String::new()
    };
    let nth = |offset: u64| {
        let sql = format!(
            "SELECT created_at FROM remediation_items{hint} \
             WHERE status IN ('open', 'in_progress', 'blocked') \
             ORDER BY created_at LIMIT 1 OFFSET {offset}"
        );
        async move {
            let row = db
                .query_one_raw(Statement::from_string(backend, sql))
                .await?;
            row.map(|r| r.try_get_by_index::<DateTime<Utc>>(0))
                .transpose()
        }
    };
    let middle = (open - 1) / 2;
    let a = nth(middle).await?;
    let b = if open.is_multiple_of(2) {
        nth(middle + 1).await?
    } else {
        a
    };
    let now = ctx.now();
    #[expect(
        clippy::cast_precision_loss,
        reason = "ages in seconds are far below 2^52"
    )]
    let age = |t: DateTime<Utc>| (now - t).num_seconds() as f64 / 86_400.0;
    Ok(match (a, b) {
        (Some(a), Some(b)) => Some(((age(a) + age(b)) / 2.0 * 100.0).round() / 100.0),
        _ => None,
    })
}
