//! Remediation items: tracked to done, with every change in their history,
//! long after the incidents they came from are closed. The types and the
//! API's entry points are here (each a short transaction around `write`);
//! storing an item in `write`, its links in `links`, its history rows in
//! `history`, reading items in `read` and the dashboard in `summary`.

use chrono::NaiveDate;
use sea_orm::{ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect};

use super::{Context, ServiceError};
use crate::{
    config::RemediationDueDays,
    domain::{
        IncidentRef, Priority, RemediationKind, RemediationRef, RemediationStatus, TrackerKind,
    },
    entities::{incident, remediation_history, remediation_item},
    ingest::RemediationRecord,
};

mod history;
mod links;
mod read;
mod summary;
mod tracker_links;
mod write;

pub(crate) use history::{history, write_history};
pub(crate) use read::views;
pub use read::{get, list};
pub use summary::summary;
pub use tracker_links::{link_tracker, request_push, tracker_for_new, unlink_tracker};
pub use write::{rebuild_counts, write};

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
    /// The tracker to create the item's issue in; unset: the team's, else
    /// `trackers.default`, else none.
    pub tracker: Option<TrackerKind>,
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
    query.one(db).await?.ok_or_else(|| not_found(reference))
}

/// The 404 of an item that does not exist.
pub(super) fn not_found(reference: RemediationRef) -> ServiceError {
    ServiceError::NotFound(match reference {
        RemediationRef::Id(id) => format!("remediation item {id}"),
        RemediationRef::Number(n) => format!("remediation item {}", RemediationRef::display(n)),
    })
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
    mut new: NewRemediation,
    actor: &str,
) -> Result<RemediationView, ServiceError> {
    new.tracker = tracker_for_new(&ctx.trackers, new.tracker, new.team.as_deref())?;
    let txn = ctx.begin_write().await?;
    let create = RemediationWrite::Create {
        new,
        due_days: &ctx.settings.remediation_due_days,
    };
    let item = write(&txn, create, actor, ctx.now()).await?.model;
    if let Some(kind) = item.tracker {
        request_push(&txn, item.id, kind, ctx.now()).await?;
    }
    let view = views(ctx, &txn, vec![item]).await?.remove(0);
    txn.commit().await?;
    tracing::info!(remediation.ref = %RemediationRef::display(view.item.number), "Remediation item created");
    Ok(view)
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
    let written = write(&txn, change, actor, ctx.now()).await?;
    let item = written.model;
    if written.outcome == super::Outcome::Updated
        && let Some(kind) = item.tracker
    {
        // A change made in Debrief goes to the issue (one made in the
        // tracker comes in through `tracker_sync` and is not sent back).
        request_push(&txn, item.id, kind, ctx.now()).await?;
    }
    txn.commit().await?;
    Ok(views(ctx, &ctx.db, vec![item]).await?.remove(0))
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
