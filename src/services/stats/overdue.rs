//! The figures of what falls due: post-mortems and remediation items due
//! in the period, published or done in it, and overdue at its end.

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};

use super::{
    Lists, OverdueItem, OverduePostmortem, PostmortemFigures, RemediationFigures, days_overdue,
};
use crate::{
    domain::{IncidentRef, RemediationRef, RemediationStatus},
    entities::{incident, postmortem, remediation_item},
    services::ServiceError,
};

const OPEN_REMEDIATION: [RemediationStatus; 3] = [
    RemediationStatus::Open,
    RemediationStatus::InProgress,
    RemediationStatus::Blocked,
];

/// Post-mortems due in `[from, to)`, first published in it, and overdue at
/// `to`, by the due date in force (`due_on`: the one set, else the
/// severity's; none for a `not_required` one, which is therefore never
/// counted as due or overdue). Each reads one index range: `idx_postmortems_due_on`,
/// `idx_postmortems_first_published_due_on`.
pub(super) async fn postmortem_figures<C: ConnectionTrait>(
    db: &C,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    tz: Tz,
    lists: Lists,
) -> Result<PostmortemFigures, ServiceError> {
    use sea_orm::PaginatorTrait;
    let first_day = from.with_timezone(&tz).date_naive();
    let end_day = to.with_timezone(&tz).date_naive();
    let due = postmortem::Entity::find()
        .filter(postmortem::Column::DueOn.gte(first_day))
        .filter(postmortem::Column::DueOn.lt(end_day))
        .count(db)
        .await?;
    let published = postmortem::Entity::find()
        .filter(postmortem::Column::FirstPublishedAt.gte(from))
        .filter(postmortem::Column::FirstPublishedAt.lt(to))
        .count(db)
        .await?;
    // Not published by `to` (never, or first at or after it) and due
    // before the period's end day: two disjoint ranges of
    // `idx_postmortems_first_published_due_on`, each short however long
    // the history (one condition with `OR` would read every post-mortem due
    // before `end_day`).
    let overdue_parts = [
        postmortem::Column::FirstPublishedAt.is_null(),
        postmortem::Column::FirstPublishedAt.gte(to),
    ]
    .map(|published| {
        postmortem::Entity::find()
            .filter(published)
            .filter(postmortem::Column::DueOn.lt(end_day))
    });
    if lists == Lists::CountsOnly {
        let mut overdue = 0;
        for part in overdue_parts {
            overdue += part.count(db).await?;
        }
        return Ok(PostmortemFigures {
            due,
            published,
            overdue,
            overdue_items: Vec::new(),
        });
    }
    let mut overdue_rows = Vec::new();
    for part in overdue_parts {
        overdue_rows.extend(part.find_also_related(incident::Entity).all(db).await?);
    }
    let mut overdue_items = overdue_postmortems(overdue_rows, end_day);
    let overdue = overdue_items.len() as u64;
    if let Lists::Most(n) = lists {
        overdue_items.truncate(n);
    }
    Ok(PostmortemFigures {
        due,
        published,
        overdue,
        overdue_items,
    })
}

/// The overdue post-mortems of `rows`, most overdue first.
fn overdue_postmortems(
    rows: Vec<(postmortem::Model, Option<incident::Model>)>,
    end_day: NaiveDate,
) -> Vec<OverduePostmortem> {
    let mut overdue_items: Vec<OverduePostmortem> = rows
        .into_iter()
        .filter_map(|(pm, incident)| {
            let due = pm.due_on?;
            // The foreign key keeps every post-mortem's incident.
            let incident = incident?;
            Some(OverduePostmortem {
                incident: IncidentRef::display(incident.number),
                title: incident.title,
                severity: incident.severity,
                owner: pm.owner,
                status: pm.status.as_str().into(),
                due_date: due,
                days_overdue: days_overdue(due, end_day),
            })
        })
        .collect();
    overdue_items.sort_by(|a, b| {
        most_overdue_first((a.days_overdue, &a.incident), (b.days_overdue, &b.incident))
    });
    overdue_items
}

/// Remediation items opened and closed in `[from, to)`, overdue at `to`,
/// and due in the period with how many of those were done on time.
pub(super) async fn remediation_figures<C: ConnectionTrait>(
    db: &C,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    tz: Tz,
    lists: Lists,
) -> Result<RemediationFigures, ServiceError> {
    let first_day = from.with_timezone(&tz).date_naive();
    // The day `to` falls on: an item due before it is overdue at `to`.
    let end_day = to.with_timezone(&tz).date_naive();
    let opened = count(
        db,
        Condition::all()
            .add(remediation_item::Column::CreatedAt.gte(from))
            .add(remediation_item::Column::CreatedAt.lt(to)),
    )
    .await?;
    let closed = count(
        db,
        Condition::all()
            .add(remediation_item::Column::ClosedAt.gte(from))
            .add(remediation_item::Column::ClosedAt.lt(to))
            .add(
                remediation_item::Column::Status
                    .is_in([RemediationStatus::Done, RemediationStatus::WontDo]),
            ),
    )
    .await?;
    let (overdue, overdue_items) = overdue_remediations(db, to, end_day, lists).await?;
    let (due_in_period, done_on_time) = done_on_time(db, first_day, end_day, tz).await?;
    Ok(RemediationFigures {
        opened,
        closed,
        overdue,
        due_in_period,
        done_on_time,
        #[expect(clippy::cast_precision_loss, reason = "counts far below 2^52")]
        completion_rate: (due_in_period > 0).then(|| done_on_time as f64 / due_in_period as f64),
        overdue_items,
    })
}

/// The remediation items overdue at `to` (open then, due before its day):
/// how many, and as many of them as `lists` asks for, most overdue first.
async fn overdue_remediations<C: ConnectionTrait>(
    db: &C,
    to: DateTime<Utc>,
    end_day: NaiveDate,
    lists: Lists,
) -> Result<(u64, Vec<OverdueItem>), ServiceError> {
    // Open at `to`: still open now, or closed only at or after `to`. The
    // two parts are disjoint (an open item has no `closed_at`) and each is
    // one short index range however long the history: the open items by
    // status (`idx_remediation_items_overdue`), the items closed since `to`
    // (`idx_remediation_items_closed_at`). One condition with `OR` over
    // them would read every item due before `end_day`, all of history.
    let due_before = || {
        Condition::all()
            .add(remediation_item::Column::DueDate.is_not_null())
            .add(remediation_item::Column::DueDate.lt(end_day))
            .add(remediation_item::Column::CreatedAt.lt(to))
    };
    let overdue_parts = [
        due_before().add(remediation_item::Column::Status.is_in(OPEN_REMEDIATION)),
        due_before()
            .add(remediation_item::Column::ClosedAt.gte(to))
            .add(remediation_item::Column::Status.is_not_in(OPEN_REMEDIATION)),
    ];
    let mut overdue_rows = Vec::new();
    let mut overdue = 0;
    for part in overdue_parts {
        match lists {
            Lists::Full => {
                let rows = remediation_item::Entity::find()
                    .filter(part)
                    .all(db)
                    .await?;
                overdue += rows.len() as u64;
                overdue_rows.extend(rows);
            }
            // Most overdue first: the earliest due date, then the lowest
            // number (the order the list is sorted in below); the `n` most
            // overdue of both parts are among the `n` first of each.
            Lists::Most(n) => {
                overdue += count(db, part.clone()).await?;
                overdue_rows.extend(
                    remediation_item::Entity::find()
                        .filter(part)
                        .order_by_asc(remediation_item::Column::DueDate)
                        .order_by_asc(remediation_item::Column::Number)
                        .limit(n as u64)
                        .all(db)
                        .await?,
                );
            }
            Lists::CountsOnly => overdue += count(db, part).await?,
        }
    }
    let mut overdue_items: Vec<OverdueItem> = overdue_rows
        .into_iter()
        .filter_map(|item| overdue_item(item, end_day))
        .collect();
    overdue_items.sort_by(|a, b| {
        most_overdue_first(
            (a.days_overdue, &a.reference),
            (b.days_overdue, &b.reference),
        )
    });
    if let Lists::Most(n) = lists {
        overdue_items.truncate(n);
    }
    Ok((overdue, overdue_items))
}

/// An overdue item as the lists show it (none without a due date).
fn overdue_item(item: remediation_item::Model, end_day: NaiveDate) -> Option<OverdueItem> {
    let due = item.due_date?;
    Some(OverdueItem {
        reference: RemediationRef::display(item.number),
        title: item.title,
        priority: item.priority.as_str().into(),
        owner: item.owner,
        team: item.team,
        due_date: due,
        days_overdue: days_overdue(due, end_day),
        tracker_key: item.tracker_key,
        tracker_url: item.tracker_url,
    })
}

/// The remediation items due in `[first_day, end_day)` (`wont_do` left
/// out), and how many of them were done by the end of their due day.
async fn done_on_time<C: ConnectionTrait>(
    db: &C,
    first_day: NaiveDate,
    end_day: NaiveDate,
    tz: Tz,
) -> Result<(u64, u64), ServiceError> {
    let due = remediation_item::Entity::find()
        .filter(remediation_item::Column::DueDate.gte(first_day))
        .filter(remediation_item::Column::DueDate.lt(end_day))
        .filter(remediation_item::Column::Status.ne(RemediationStatus::WontDo))
        .all(db)
        .await?;
    let due_in_period = due.len() as u64;
    let done_on_time = due
        .iter()
        .filter(|item| {
            item.status == RemediationStatus::Done
                && item
                    .closed_at
                    .zip(item.due_date)
                    .is_some_and(|(closed, due)| closed.with_timezone(&tz).date_naive() <= due)
        })
        .count() as u64;
    Ok((due_in_period, done_on_time))
}

async fn count<C: ConnectionTrait>(db: &C, condition: Condition) -> Result<u64, ServiceError> {
    use sea_orm::PaginatorTrait;
    Ok(remediation_item::Entity::find()
        .filter(condition)
        .count(db)
        .await?)
}

/// The order of overdue lists: most days overdue first, then by reference
/// in number order (`INC-9` before `INC-10`).
fn most_overdue_first<D: Ord>(a: (D, &str), b: (D, &str)) -> std::cmp::Ordering {
    b.0.cmp(&a.0)
        .then(a.1.len().cmp(&b.1.len()))
        .then(a.1.cmp(b.1))
}
