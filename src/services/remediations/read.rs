//! Reading remediation items: one with its history, a filtered page, and
//! the view of each (linked incidents, overdue).

use std::collections::HashMap;

use chrono::NaiveDate;
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    Select,
    sea_query::{Expr, ExprTrait, Func, LikeExpr},
};
use uuid::Uuid;

use super::{RemediationDetail, RemediationFilter, RemediationView, find_item};
use crate::{
    domain::{IncidentRef, RemediationRef},
    entities::{incident, remediation_history, remediation_incident, remediation_item},
    services::{
        Context, ServiceError, find_incident,
        incidents::escape_like,
        pagination::{Page, PageRequest},
    },
};

/// The `INC-n` references linked to each item.
pub(super) async fn incident_refs<C: ConnectionTrait>(
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

pub(super) async fn views<C: ConnectionTrait>(
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

/// One page of the items that pass the filter, by due date (undated ones
/// last), then number.
pub async fn list(
    ctx: &Context,
    filter: RemediationFilter,
    page: PageRequest<(NaiveDate, i64)>,
) -> Result<Page<RemediationView>, ServiceError> {
    let mut query = filtered(ctx, filter).await?;
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

/// The items that pass every filter given (an incident's is looked up
/// first: a missing one is a 404).
async fn filtered(
    ctx: &Context,
    filter: RemediationFilter,
) -> Result<Select<remediation_item::Entity>, ServiceError> {
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
        let pattern = format!("%{}%", escape_like(&q.to_lowercase()));
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
    Ok(query)
}
