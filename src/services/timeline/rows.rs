//! The multi-row `INSERT`s of timeline events, one kind per database: on
//! SQLite bound values with the shared ones bound once, on PostgreSQL one
//! array per column.

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DbBackend, Statement, Value};

use super::PG_INSERT_ROWS;
use crate::entities::timeline_event;

/// Rows per INSERT statement on SQLite: 8,003 bound values, below its
/// limit of 32,766.
const ROWS_PER_STATEMENT: usize = 1000;

/// Insert rows in multi-row statements; with `skip_stored`, rows whose
/// `(incident_id, source, external_id)` is stored are skipped. Returns how
/// many were inserted.
pub(super) async fn insert_rows<C: ConnectionTrait>(
    db: &C,
    rows: Vec<timeline_event::Model>,
    skip_stored: bool,
) -> Result<u64, sea_orm::DbErr> {
    let postgres = db.get_database_backend() == DbBackend::Postgres;
    let per_statement = if postgres {
        PG_INSERT_ROWS
    } else {
        ROWS_PER_STATEMENT
    };
    let mut inserted = 0;
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let chunk: Vec<timeline_event::Model> = rows.by_ref().take(per_statement).collect();
        inserted += if postgres {
            insert_unnest(db, &chunk, skip_stored).await?
        } else {
            insert_values(db, chunk, skip_stored).await?
        };
    }
    Ok(inserted)
}

/// The columns of [`insert_values`]'s rows, in order.
const COLUMNS: [&str; 11] = [
    "id",
    "incident_id",
    "occurred_at",
    "kind",
    "body",
    "author",
    "source",
    "external_id",
    "visibility",
    "created_at",
    "updated_at",
];

/// The columns each row of [`insert_values`] binds, in order: every column
/// but the three the rows of one statement share (`incident_id`,
/// `created_at`, `updated_at`), which are bound once.
const ROW_COLUMNS: [&str; 8] = [
    "id",
    "occurred_at",
    "kind",
    "body",
    "author",
    "source",
    "external_id",
    "visibility",
];

/// The `INSERT` of `n` rows of one incident written at one time: first the
/// shared values (incident, creation and update times), then
/// [`ROW_COLUMNS`] for each row.
/// (`WHERE true` keeps SQLite from reading `ON` as a join's.)
fn insert_values_sql(n: usize, skip_stored: bool) -> String {
    let from_row = |name: &str| {
        let at = ROW_COLUMNS
            .iter()
            .position(|c| *c == name)
            .map(|i| format!("r.column{}", i + 1));
        at.unwrap_or_else(|| format!("shared.{name}"))
    };
    let columns: Vec<String> = COLUMNS.iter().map(|c| format!("\"{c}\"")).collect();
    let selected: Vec<String> = COLUMNS.iter().map(|c| from_row(c)).collect();
    let row = format!("({})", vec!["?"; ROW_COLUMNS.len()].join(", "));
    let skip = if skip_stored {
        " ON CONFLICT (\"incident_id\", \"source\", \"external_id\") DO NOTHING"
    } else {
        ""
    };
    format!(
        "WITH shared (incident_id, created_at, updated_at) AS (VALUES (?, ?, ?)) \
         INSERT INTO \"timeline_events\" ({}) SELECT {} FROM shared, (VALUES {}) AS r \
         WHERE true{skip}",
        columns.join(", "),
        selected.join(", "),
        vec![row; n].join(", ")
    )
}

/// A time as sqlx writes a `DateTime<Utc>` to SQLite (and reads it back).
fn sqlite_time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, false)
}

/// SQLite: multi-row `INSERT`s, one for each run of rows that share their
/// incident and times (a batch is one run). Its text depends only on the
/// number of rows, so a full chunk's is made once; the values are the
/// model's, moved out. The shared values are bound once per statement:
/// every bound value is cloned by sea-orm, converted by sqlx and freed on
/// the connection's thread, and the three shared columns were 3 of 11
/// values per row. (Built by sea-query per statement, the text of 11,000
/// placeholders cost more than the rows' values. Numbered parameters are
/// slower: SQLite finds a numbered parameter's name by a walk of the list
/// of names, which sqlx asks for each of them.)
async fn insert_values<C: ConnectionTrait>(
    db: &C,
    rows: Vec<timeline_event::Model>,
    skip_stored: bool,
) -> Result<u64, sea_orm::DbErr> {
    let mut inserted = 0;
    let mut rows = rows.into_iter().peekable();
    while let Some(first) = rows.peek() {
        let shared = (first.incident_id, first.created_at, first.updated_at);
        let mut run = Vec::new();
        while let Some(row) =
            rows.next_if(|r| (r.incident_id, r.created_at, r.updated_at) == shared)
        {
            run.push(row);
        }
        inserted += insert_run(db, run, skip_stored).await?;
    }
    Ok(inserted)
}

/// One statement of [`insert_values`]: rows of one incident, created and
/// updated at one time.
async fn insert_run<C: ConnectionTrait>(
    db: &C,
    rows: Vec<timeline_event::Model>,
    skip_stored: bool,
) -> Result<u64, sea_orm::DbErr> {
    static FULL: [std::sync::OnceLock<String>; 2] =
        [std::sync::OnceLock::new(), std::sync::OnceLock::new()];
    let Some(first) = rows.first() else {
        return Ok(0);
    };
    let sql = if rows.len() == ROWS_PER_STATEMENT {
        FULL[usize::from(skip_stored)]
            .get_or_init(|| insert_values_sql(ROWS_PER_STATEMENT, skip_stored))
            .clone()
    } else {
        insert_values_sql(rows.len(), skip_stored)
    };
    let mut values = Vec::with_capacity(3 + rows.len() * ROW_COLUMNS.len());
    values.extend([
        Value::from(first.incident_id),
        Value::from(sqlite_time(first.created_at)),
        Value::from(sqlite_time(first.updated_at)),
    ]);
    for row in rows {
        values.extend([
            Value::from(row.id),
            Value::from(row.occurred_at),
            Value::from(row.kind),
            Value::from(row.body),
            Value::from(row.author),
            Value::from(row.source),
            Value::from(row.external_id),
            Value::from(row.visibility),
        ]);
    }
    let result = db
        .execute_raw(Statement::from_sql_and_values(
            DbBackend::Sqlite,
            sql,
            values,
        ))
        .await?;
    Ok(result.rows_affected())
}

/// PostgreSQL: one `INSERT … SELECT FROM UNNEST` of one array parameter per
/// column. It binds 13 values instead of 11 per row, which makes a large
/// batch about twice as fast as a multi-row `VALUES` list. A text array
/// cannot hold NULL through sea-query's binding, so the nullable columns
/// come with an array saying which rows hold a value.
async fn insert_unnest<C: ConnectionTrait>(
    db: &C,
    rows: &[timeline_event::Model],
    skip_stored: bool,
) -> Result<u64, sea_orm::DbErr> {
    fn column<T>(rows: &[timeline_event::Model], f: impl Fn(&timeline_event::Model) -> T) -> Value
    where
        Vec<T>: Into<Value>,
    {
        rows.iter().map(f).collect::<Vec<T>>().into()
    }
    let values = vec![
        column(rows, |m| m.id),
        column(rows, |m| m.incident_id),
        column(rows, |m| m.occurred_at),
        column(rows, |m| m.kind.as_str().to_owned()),
        column(rows, |m| m.body.clone()),
        column(rows, |m| m.author.clone().unwrap_or_default()),
        column(rows, |m| m.author.is_some()),
        column(rows, |m| m.source.as_str().to_owned()),
        column(rows, |m| m.external_id.clone().unwrap_or_default()),
        column(rows, |m| m.external_id.is_some()),
        column(rows, |m| m.visibility.as_str().to_owned()),
        column(rows, |m| m.created_at),
        column(rows, |m| m.updated_at),
    ];
    let skip = if skip_stored {
        " ON CONFLICT (incident_id, source, external_id) DO NOTHING"
    } else {
        ""
    };
    let sql = format!(
        "INSERT INTO timeline_events (id, incident_id, occurred_at, kind, body, author, source, \
         external_id, visibility, created_at, updated_at) \
         SELECT id, incident_id, occurred_at, kind, body, \
         CASE WHEN has_author THEN author END, source, \
         CASE WHEN has_external_id THEN external_id END, visibility, created_at, updated_at \
         FROM UNNEST($1::uuid[], $2::uuid[], $3::timestamptz[], $4::text[], $5::text[], \
         $6::text[], $7::bool[], $8::text[], $9::text[], $10::bool[], $11::text[], \
         $12::timestamptz[], $13::timestamptz[]) \
         AS t(id, incident_id, occurred_at, kind, body, author, has_author, source, \
         external_id, has_external_id, visibility, created_at, updated_at){skip}"
    );
    let result = db
        .execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            sql,
            values,
        ))
        .await?;
    Ok(result.rows_affected())
}

#[cfg(test)]
mod tests {
    use sea_orm::{Iterable, sea_query::Iden};

    use super::*;

    #[test]
    fn a_multi_row_insert_names_every_column_in_order() {
        let columns: Vec<String> = timeline_event::Column::iter()
            .map(|c| c.to_string())
            .collect();
        assert_eq!(COLUMNS.to_vec(), columns);
        let sql = insert_values_sql(2, true);
        assert!(sql.starts_with(
            "WITH shared (incident_id, created_at, updated_at) AS (VALUES (?, ?, ?)) \
             INSERT INTO \"timeline_events\" \
             (\"id\", \"incident_id\", \"occurred_at\", \"kind\", \"body\", \"author\", \
             \"source\", \"external_id\", \"visibility\", \"created_at\", \"updated_at\") \
             SELECT r.column1, shared.incident_id, r.column2, r.column3, r.column4, r.column5, \
             r.column6, r.column7, r.column8, shared.created_at, shared.updated_at FROM shared, "
        ));
        assert!(sql.ends_with(
            "(VALUES (?, ?, ?, ?, ?, ?, ?, ?), (?, ?, ?, ?, ?, ?, ?, ?)) AS r WHERE true \
             ON CONFLICT (\"incident_id\", \"source\", \"external_id\") DO NOTHING"
        ));
    }

    /// Times written as text by `insert_values` are the text sqlx writes
    /// for a bound `DateTime<Utc>`: the same rows compare and sort alike.
    #[tokio::test]
    async fn times_are_stored_as_sqlx_stores_them() {
        use sea_orm::{Database, Statement};
        let db = Database::connect("sqlite::memory:").await.unwrap();
        db.execute_unprepared("CREATE TABLE t (bound TEXT, formatted TEXT)")
            .await
            .unwrap();
        for t in [
            "2026-12-02T04:05:06Z",
            "2026-12-02T04:05:06.5Z",
            "2026-12-02T04:05:06.123456Z",
        ] {
            let t: DateTime<Utc> = t.parse().unwrap();
            db.execute_raw(Statement::from_sql_and_values(
                DbBackend::Sqlite,
                "INSERT INTO t VALUES (?, ?)",
                [Value::from(t), Value::from(sqlite_time(t))],
            ))
            .await
            .unwrap();
        }
        let differing = db
            .query_one_raw(Statement::from_string(
                DbBackend::Sqlite,
                "SELECT count(*) AS n FROM t WHERE bound IS NOT formatted",
            ))
            .await
            .unwrap()
            .unwrap()
            .try_get::<i64>("", "n")
            .unwrap();
        assert_eq!(differing, 0);
    }
}
