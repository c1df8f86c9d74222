//! Reads that answer from one SQL statement.
//!
//! On PostgreSQL every statement is a round trip to another process (and
//! often another machine), so the reads clients poll are written as one
//! statement each: the records of an incident come with the check that the
//! incident exists (a 404 is told from an empty list in the same
//! statement), and an incident's detail view comes with its current sitrep,
//! its role holders and its counts. The same statements run on SQLite. Each
//! statement's text depends only on its shape, so the driver prepares it
//! once per connection and reuses it (sqlx keeps a statement cache per
//! connection). `docs/sql-statements.md` lists what every operation sends.

use sea_orm::{
    ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, FromQueryResult, IdenStatic, Iterable,
    Order, QueryFilter, QueryOrder, QueryResult, QuerySelect, QueryTrait, Select,
    sea_query::{Alias, Asterisk, Expr, ExprTrait, IntoIden, JoinType, Query, SelectStatement},
};
use uuid::Uuid;

use super::ServiceError;
use crate::{domain::IncidentRef, entities::incident};

/// The alias of the incident in the statements below.
const PARENT: &str = "p";
/// The alias of the rows read with it.
const CHILD: &str = "c";
/// The column that tells the incident was found.
const FOUND: &str = "P_id";

/// The condition that picks the incident `reference` names, on `table`
/// (an alias, or the table itself).
fn names(table: Option<&str>, reference: IncidentRef) -> sea_orm::sea_query::SimpleExpr {
    let column = |c: incident::Column| match table {
        Some(alias) => Expr::col((Alias::new(alias), c)),
        None => Expr::col(c),
    };
    match reference {
        IncidentRef::Id(id) => column(incident::Column::Id).eq(id),
        IncidentRef::Number(n) => column(incident::Column::Number).eq(n),
    }
}

/// The id of the incident `reference` names, as a subquery.
pub fn incident_id(reference: IncidentRef) -> SelectStatement {
    Query::select()
        .column(incident::Column::Id)
        .from(incident::Entity)
        .and_where(names(None, reference))
        .to_owned()
}

pub fn not_found(reference: IncidentRef) -> ServiceError {
    ServiceError::NotFound(match reference {
        IncidentRef::Id(id) => format!("incident {id}"),
        IncidentRef::Number(n) => format!("incident {}", IncidentRef::display(n)),
    })
}

/// Whether a row read with a `LEFT JOIN` holds a record: its `id` (with
/// the prefix of its columns) is not NULL.
pub fn holds(row: &QueryResult, prefix: &str) -> Result<bool, ServiceError> {
    Ok(row.try_get::<Option<Uuid>>(prefix, "id")?.is_some())
}

/// The rows `query` selects among the records of the incident `reference`
/// names (through `column`, their incident's id), in `order`, at most
/// `limit`: one statement, which also tells a missing incident (404) from
/// one without such records (an empty list).
///
/// The statement: `SELECT p.id, c.* FROM incidents p LEFT JOIN (query
/// AND column IN (incident's id) ORDER BY … LIMIT …) c ON 1 = 1 WHERE p
/// is the incident ORDER BY …` — one row with NULLs when it has none.
pub async fn of_incident<E, C>(
    db: &C,
    reference: IncidentRef,
    query: Select<E>,
    column: E::Column,
    order: &[(E::Column, Order)],
    limit: Option<u64>,
) -> Result<Vec<E::Model>, ServiceError>
where
    E: EntityTrait,
    E::Model: FromQueryResult,
    C: ConnectionTrait,
{
    let mut query = query.filter(column.in_subquery(incident_id(reference)));
    for (col, ord) in order {
        query = query.order_by(*col, ord.clone());
    }
    if let Some(limit) = limit {
        query = query.limit(limit);
    }
    let mut outer = Query::select();
    outer
        .expr_as(
            Expr::col((Alias::new(PARENT), incident::Column::Id)),
            Alias::new(FOUND),
        )
        .column((Alias::new(CHILD), Asterisk))
        .from_as(incident::Entity, Alias::new(PARENT))
        .join_subquery(
            JoinType::LeftJoin,
            query.into_query(),
            Alias::new(CHILD),
            Expr::val(1).eq(1),
        )
        .and_where(names(Some(PARENT), reference));
    for (col, ord) in order {
        outer.order_by((Alias::new(CHILD), col.into_iden()), ord.clone());
    }
    let rows = db.query_all(&outer).await?;
    if rows.is_empty() {
        return Err(not_found(reference));
    }
    let mut models = Vec::with_capacity(rows.len());
    for row in &rows {
        if holds(row, "")? {
            models.push(E::Model::from_query_result(row, "")?);
        }
    }
    Ok(models)
}

/// `table."column" AS "PREFIXcolumn", …` for every column of `E`, for a
/// statement written as text that reads several entities from one row:
/// `E::Model::from_query_result(row, "PREFIX")` reads them back (and a
/// corrupt value names its row by `PREFIXid`).
pub fn aliased<E: EntityTrait>(table: &str, prefix: &str) -> String {
    E::Column::iter()
        .map(|c| format!(r#"{table}."{name}" AS "{prefix}{name}""#, name = c.as_str()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The first parameter of a statement written as text.
pub fn first_parameter(backend: DbBackend) -> &'static str {
    if backend == DbBackend::Postgres {
        "$1"
    } else {
        "?"
    }
}
