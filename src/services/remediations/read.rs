//! Reading remediation items: one with its history, a filtered page, and
//! the view of each (linked incidents, overdue).

use std::collections::HashMap;

use chrono::NaiveDate;
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DbBackend, EntityTrait, FromQueryResult, QueryFilter,
    QueryOrder, QueryResult, QuerySelect, QueryTrait, Select, Statement,
    sea_query::{Expr, ExprTrait, Func, LikeExpr},
};
use uuid::Uuid;

use super::{RemediationDetail, RemediationFilter, RemediationView, not_found};
use crate::{
    domain::{IncidentRef, RemediationRef},
    entities::{incident, remediation_history, remediation_incident, remediation_item},
    services::{
        Context, ServiceError, find_incident,
        incidents::escape_like,
        pagination::{Page, PageRequest},
        reads,
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

pub(crate) async fn views<C: ConnectionTrait>(
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

/// The numbers of the incidents an item is linked to, as one text column
/// (`"3,7"`) of the item's row: a correlated subquery on `table`'s `id`,
/// so a page of items and their links are one statement.
fn linked_numbers(backend: DbBackend, table: &str) -> String {
    let joined = if backend == DbBackend::Postgres {
        "string_agg(CAST(i.number AS TEXT), ',')"
    } else {
        "group_concat(i.number, ',')"
    };
    format!(
        "(SELECT {joined} FROM remediation_incidents ri \
         JOIN incidents i ON i.id = ri.incident_id WHERE ri.remediation_id = {table}.id)"
    )
}

/// The column [`linked_numbers`] is read back from.
const LINKED: &str = "linked_incident_numbers";

/// The `INC-n` references of a [`LINKED`] column, by number.
fn linked_refs(row: &QueryResult, prefix: &str) -> Result<Vec<String>, ServiceError> {
    let text: Option<String> = row.try_get(prefix, LINKED)?;
    let mut numbers = Vec::new();
    for number in text
        .as_deref()
        .unwrap_or("")
        .split(',')
        .filter(|n| !n.is_empty())
    {
        numbers.push(number.parse::<i64>().map_err(|e| {
            ServiceError::Internal(anyhow::Error::new(e).context("a linked incident number"))
        })?);
    }
    numbers.sort_unstable();
    Ok(numbers.into_iter().map(IncidentRef::display).collect())
}

/// One item with its linked incidents and its history, oldest change
/// first: one statement (the item once, in a materialised CTE, joined with
/// its history rows).
pub async fn get(
    ctx: &Context,
    reference: RemediationRef,
) -> Result<RemediationDetail, ServiceError> {
    let backend = ctx.db.get_database_backend();
    let (key, value) = match reference {
        RemediationRef::Id(id) => ("id", sea_orm::Value::from(id)),
        RemediationRef::Number(n) => ("number", sea_orm::Value::from(n)),
    };
    let placeholder = reads::first_parameter(backend);
    let sql = format!(
        "WITH a AS MATERIALIZED (SELECT x.*, {linked} AS {LINKED} FROM remediation_items x \
         WHERE x.{key} = {placeholder}) \
         SELECT a.{LINKED} AS \"A_{LINKED}\", {item}, {change} FROM a \
         LEFT JOIN remediation_history h ON h.remediation_id = a.id \
         ORDER BY h.changed_at, h.id",
        linked = linked_numbers(backend, "x"),
        item = reads::aliased::<remediation_item::Entity>("a", "A_"),
        change = reads::aliased::<remediation_history::Entity>("h", "B_"),
    );
    let rows = ctx
        .db
        .query_all_raw(Statement::from_sql_and_values(backend, sql, [value]))
        .await?;
    let first = rows.first().ok_or_else(|| not_found(reference))?;
    let item = remediation_item::Model::from_query_result(first, "A_")?;
    let mut history = Vec::new();
    for row in &rows {
        if reads::holds(row, "B_")? {
            history.push(remediation_history::Model::from_query_result(row, "B_")?);
        }
    }
    let view = RemediationView {
        incidents: linked_refs(first, "A_")?,
        overdue: ctx.remediation_overdue(&item),
        item,
    };
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
    let backend = ctx.db.get_database_backend();
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
    let query = query
        .column_as(
            Expr::cust(linked_numbers(backend, "remediation_items")),
            LINKED,
        )
        .order_by_asc(sort_due())
        .order_by_asc(remediation_item::Column::Number)
        .limit(page.limit + 1);
    let mut rows = Vec::new();
    for row in ctx.db.query_all(&query.into_query()).await? {
        let incidents = linked_refs(&row, "")?;
        rows.push((
            remediation_item::Model::from_query_result(&row, "")?,
            incidents,
        ));
    }
    let page = Page::from_rows(rows, page.limit, |(i, _)| {
        (i.due_date.unwrap_or_else(no_due_date), i.number)
    });
    Ok(Page {
        items: page
            .items
            .into_iter()
            .map(|(item, incidents)| RemediationView {
                incidents,
                overdue: ctx.remediation_overdue(&item),
                item,
            })
            .collect(),
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
