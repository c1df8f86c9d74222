//! The multi-row `INSERT`s of timeline events, one kind per database: on
//! SQLite bound values with the shared ones bound once, on PostgreSQL one
//! array per column.

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DbBackend, Statement, Value};

use super::PG_INSERT_ROWS;
use crate::entities::timeline_event;

/// Rows per INSERT statement on SQLite: at most 8,003 bound values, below
/// its limit of 32,766.
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

/// The columns the rows of one statement of [`insert_values`] always share,
/// bound once: the rows of a run have one incident and one time.
const RUN_COLUMNS: [&str; 3] = ["incident_id", "created_at", "updated_at"];

/// The columns bound once for a statement when all its rows hold the same
/// value in them, as the events one tool sends in a batch do, and once per
/// row otherwise. Bit `i` of a [`Shared`] mask stands for `SHAREABLE[i]`.
const SHAREABLE: [&str; 4] = ["kind", "author", "source", "visibility"];

/// Which [`SHAREABLE`] columns a statement binds once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Shared(u8);

impl Shared {
    /// The columns in which every row holds the first row's value.
    fn of(rows: &[timeline_event::Model]) -> Self {
        let Some(first) = rows.first() else {
            return Self(0);
        };
        let alike = [
            rows.iter().all(|r| r.kind == first.kind),
            rows.iter().all(|r| r.author == first.author),
            rows.iter().all(|r| r.source == first.source),
            rows.iter().all(|r| r.visibility == first.visibility),
        ];
        Self(
            alike
                .iter()
                .enumerate()
                .filter(|(_, alike)| **alike)
                .fold(0, |mask, (i, _)| mask | 1 << i),
        )
    }

    /// Whether `column` (one of [`SHAREABLE`]) is bound once.
    fn holds(self, column: &str) -> bool {
        SHAREABLE
            .iter()
            .position(|c| *c == column)
            .is_some_and(|i| self.0 & 1 << i != 0)
    }

    /// The columns bound once, as indexes into [`COLUMNS`] in order:
    /// [`RUN_COLUMNS`], then the shared ones of [`SHAREABLE`].
    fn once(self) -> Vec<usize> {
        let shareable = SHAREABLE.iter().copied().filter(|c| self.holds(c));
        RUN_COLUMNS
            .iter()
            .copied()
            .chain(shareable)
            .map(column_index)
            .collect()
    }

    /// The columns each row binds, as indexes into [`COLUMNS`] in order:
    /// all but [`Shared::once`]'s.
    fn per_row(self) -> Vec<usize> {
        let once = self.once();
        (0..COLUMNS.len()).filter(|i| !once.contains(i)).collect()
    }
}

/// The index of a column in [`COLUMNS`].
fn column_index(name: &str) -> usize {
    COLUMNS
        .iter()
        .position(|c| *c == name)
        .unwrap_or_else(|| unreachable!("{name} is not a column of timeline_events"))
}

/// The `INSERT` of `n` rows of one incident written at one time: first the
/// values bound once ([`Shared::once`]), then [`Shared::per_row`]'s for
/// each row.
/// (`WHERE true` keeps SQLite from reading `ON` as a join's.)
fn insert_values_sql(n: usize, skip_stored: bool, shared: Shared) -> String {
    let (once, per_row) = (shared.once(), shared.per_row());
    let from = |i: usize| match per_row.iter().position(|c| *c == i) {
        Some(at) => format!("r.column{}", at + 1),
        None => format!("shared.{}", COLUMNS[i]),
    };
    let columns: Vec<String> = COLUMNS.iter().map(|c| format!("\"{c}\"")).collect();
    let selected: Vec<String> = (0..COLUMNS.len()).map(from).collect();
    let once_names: Vec<&str> = once.iter().map(|i| COLUMNS[*i]).collect();
    let row = format!("({})", vec!["?"; per_row.len()].join(", "));
    let skip = if skip_stored {
        " ON CONFLICT (\"incident_id\", \"source\", \"external_id\") DO NOTHING"
    } else {
        ""
    };
    format!(
        "WITH shared ({}) AS (VALUES ({})) \
         INSERT INTO \"timeline_events\" ({}) SELECT {} FROM shared, (VALUES {}) AS r \
         WHERE true{skip}",
        once_names.join(", "),
        vec!["?"; once.len()].join(", "),
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
/// number of rows and on which columns are bound once, so a full chunk's
/// is made once for each; the values are the model's, moved out. Values
/// the rows share are bound once per statement: every bound value is
/// cloned by sea-orm, converted by sqlx, copied by SQLite and freed on the
/// connection's thread, and a batch from one tool binds 4 of a row's 11
/// values per row (8 when only the incident and times were shared). (Built by sea-query per statement, the text of 11,000
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
        let run_key = (first.incident_id, first.created_at, first.updated_at);
        let mut run = Vec::new();
        while let Some(row) =
            rows.next_if(|r| (r.incident_id, r.created_at, r.updated_at) == run_key)
        {
            run.push(row);
        }
        inserted += insert_run(db, run, skip_stored).await?;
    }
    Ok(inserted)
}

/// The value of column `i` of [`COLUMNS`] of `row`, moved out of it (the
/// test `rows_are_stored_whatever_they_share` reads every column back).
fn take_value(row: &mut timeline_event::Model, i: usize) -> Value {
    match i {
        0 => Value::from(row.id),
        1 => Value::from(row.incident_id),
        2 => Value::from(row.occurred_at),
        3 => Value::from(row.kind),
        4 => Value::from(std::mem::take(&mut row.body)),
        5 => Value::from(row.author.take()),
        6 => Value::from(row.source),
        7 => Value::from(row.external_id.take()),
        8 => Value::from(row.visibility),
        9 => Value::from(sqlite_time(row.created_at)),
        10 => Value::from(sqlite_time(row.updated_at)),
        _ => unreachable!("timeline_events has {} columns", COLUMNS.len()),
    }
}

/// One statement of [`insert_values`]: rows of one incident, created and
/// updated at one time.
async fn insert_run<C: ConnectionTrait>(
    db: &C,
    mut rows: Vec<timeline_event::Model>,
    skip_stored: bool,
) -> Result<u64, sea_orm::DbErr> {
    /// A full statement's text for each [`Shared`] mask, with and without
    /// `skip_stored`.
    static FULL: [std::sync::OnceLock<String>; 2 << SHAREABLE.len()] =
        [const { std::sync::OnceLock::new() }; 2 << SHAREABLE.len()];
    if rows.is_empty() {
        return Ok(0);
    }
    let shared = Shared::of(&rows);
    let sql = if rows.len() == ROWS_PER_STATEMENT {
        let at = usize::from(shared.0) << 1 | usize::from(skip_stored);
        FULL[at]
            .get_or_init(|| insert_values_sql(ROWS_PER_STATEMENT, skip_stored, shared))
            .clone()
    } else {
        insert_values_sql(rows.len(), skip_stored, shared)
    };
    let (once, per_row) = (shared.once(), shared.per_row());
    let mut values = Vec::with_capacity(once.len() + rows.len() * per_row.len());
    values.extend(once.iter().map(|i| take_value(&mut rows[0], *i)));
    for row in &mut rows {
        values.extend(per_row.iter().map(|i| take_value(row, *i)));
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
        let sql = insert_values_sql(2, true, Shared(0));
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
        // Kind and source alike in every row: bound once.
        let sql = insert_values_sql(2, false, Shared(0b0101));
        assert!(sql.starts_with(
            "WITH shared (incident_id, created_at, updated_at, kind, source) \
             AS (VALUES (?, ?, ?, ?, ?)) "
        ));
        assert!(sql.contains(
            "SELECT r.column1, shared.incident_id, r.column2, shared.kind, r.column3, \
             r.column4, shared.source, r.column5, r.column6, shared.created_at, \
             shared.updated_at FROM shared, "
        ));
        assert!(sql.ends_with("(VALUES (?, ?, ?, ?, ?, ?), (?, ?, ?, ?, ?, ?)) AS r WHERE true"));
    }

    #[test]
    fn only_the_columns_every_row_holds_alike_are_shared() {
        let at: DateTime<Utc> = "2026-12-02T04:05:06Z".parse().unwrap();
        let row = |kind, author: Option<&str>, source, visibility| timeline_event::Model {
            id: uuid::Uuid::now_v7(),
            incident_id: uuid::Uuid::nil(),
            occurred_at: at,
            kind,
            body: "b".into(),
            author: author.map(str::to_owned),
            source,
            external_id: None,
            visibility,
            created_at: at,
            updated_at: at,
        };
        use crate::domain::{EventSource as S, TimelineKind as K, Visibility as V};
        let alike = [
            row(K::Note, None, S::Api, V::Internal),
            row(K::Note, None, S::Api, V::Internal),
        ];
        assert_eq!(Shared::of(&alike), Shared(0b1111));
        let mixed = [
            row(K::Note, Some("ana"), S::Api, V::Internal),
            row(K::Action, Some("ana"), S::Api, V::Public),
        ];
        assert_eq!(Shared::of(&mixed), Shared(0b0110));
        assert_eq!(Shared::of(&[]), Shared(0));
    }

    /// Rows stored by `insert_values` read back as they were given,
    /// whichever columns their statement binds once.
    #[tokio::test]
    async fn rows_are_stored_whatever_they_share() {
        use sea_orm::{Database, EntityTrait, QueryOrder};

        use crate::domain::{EventSource as S, TimelineKind as K, Visibility as V};
        let db = Database::connect("sqlite::memory:").await.unwrap();
        db.execute_unprepared(
            "CREATE TABLE timeline_events (seq INTEGER PRIMARY KEY, id BLOB NOT NULL UNIQUE, \
             incident_id BLOB NOT NULL, occurred_at TEXT NOT NULL, kind TEXT NOT NULL, \
             body TEXT NOT NULL, author TEXT, source TEXT NOT NULL, external_id TEXT, \
             visibility TEXT NOT NULL, created_at TEXT NOT NULL, updated_at TEXT NOT NULL, \
             UNIQUE (incident_id, source, external_id))",
        )
        .await
        .unwrap();
        let at = |s: u32| -> DateTime<Utc> {
            DateTime::from_timestamp(1_800_000_000 + i64::from(s), 0).unwrap()
        };
        let (one, two) = (uuid::Uuid::now_v7(), uuid::Uuid::now_v7());
        let row = |n: u32, incident, kind, author: Option<&str>, source, visibility| {
            timeline_event::Model {
                id: uuid::Uuid::now_v7(),
                incident_id: incident,
                occurred_at: at(n),
                kind,
                body: format!("event {n}"),
                author: author.map(str::to_owned),
                source,
                external_id: Some(format!("e-{n}")),
                visibility,
                created_at: at(1000),
                updated_at: at(1000),
            }
        };
        let rows = vec![
            // A run where every column is alike …
            row(1, one, K::Note, None, S::Api, V::Internal),
            row(2, one, K::Note, None, S::Api, V::Internal),
            // … one where none is …
            row(3, two, K::Note, Some("ana"), S::Api, V::Internal),
            row(4, two, K::Action, None, S::Chat, V::Public),
            // … and one of a row alone.
            row(5, one, K::Decision, Some("bo"), S::Pagerduty, V::Public),
        ];
        let inserted = insert_rows(&db, rows.clone(), true).await.unwrap();
        assert_eq!(inserted, 5);
        let stored = timeline_event::Entity::find()
            .order_by_asc(timeline_event::Column::OccurredAt)
            .all(&db)
            .await
            .unwrap();
        assert_eq!(stored, rows);
        // Stored rows are skipped, new ones still stored.
        let again = vec![
            rows[0].clone(),
            row(6, one, K::Note, None, S::Api, V::Internal),
        ];
        let again = again
            .into_iter()
            .map(|r| timeline_event::Model {
                id: uuid::Uuid::now_v7(),
                ..r
            })
            .collect();
        assert_eq!(insert_rows(&db, again, true).await.unwrap(), 1);
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
