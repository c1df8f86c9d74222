//! The search index: one row per searchable record in `search_entries`
//! (incidents, timeline events, sitreps, post-mortem sections with a body,
//! remediation items), kept by triggers on those tables in the same
//! transaction as every write, whoever writes (the API, the importers, a
//! hand-written statement). On SQLite an external-content FTS5 table
//! (`search_fts`, unicode61 with diacritics removed) indexes the entries;
//! on PostgreSQL a generated `tsvector` column with a GIN index (the
//! `simple` configuration over unaccented text with ASCII punctuation taken
//! out, so that both databases split and fold words alike; see
//! docs/decisions.md). The migration fills the index for existing rows.

use sea_orm_migration::{prelude::*, schema::*, sea_orm::DbBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// One table whose rows are indexed. Expressions name the row as `@R`,
/// replaced by `new`/`NEW` in a trigger and by the table's alias in the fill.
pub struct Source {
    pub table: &'static str,
    pub kind: &'static str,
    pub incident: &'static str,
    pub title: &'static str,
    pub body: String,
    /// An incident's facts: customer impact, components and labels (''
    /// for the other kinds, so that a search of the `title` and `facts`
    /// columns finds incidents, not their timelines).
    pub facts: String,
    /// Rows indexed only when this holds (`TRUE` for all).
    pub condition: &'static str,
    /// The columns an update must change for the entry to be rebuilt.
    pub watched: &'static [&'static str],
}

/// A JSON list of strings (`["a","b"]`, as the service stores lists) as
/// plain words (`a, b`): the same expression on both databases.
fn list_text(column: &str) -> String {
    format!(
        "replace(replace(replace(replace({column}, '[]', ''), '[\"', ''), '\"]', ''), '\",\"', ', ')"
    )
}

/// Every indexed table, with what its entry holds.
pub fn sources() -> Vec<Source> {
    vec![
        Source {
            table: "incidents",
            kind: "incident",
            incident: "@R.id",
            title: "@R.title",
            body: "''".into(),
            facts: format!(
                "coalesce(@R.customer_impact, '') || ' ' || {} || ' ' || {}",
                list_text("@R.affected_components"),
                list_text("@R.labels")
            ),
            condition: "TRUE",
            watched: &["title", "customer_impact", "affected_components", "labels"],
        },
        Source {
            table: "timeline_events",
            kind: "timeline_event",
            incident: "@R.incident_id",
            title: "''",
            body: "@R.body".into(),
            facts: "''".into(),
            condition: "TRUE",
            watched: &["body"],
        },
        Source {
            table: "sitreps",
            kind: "sitrep",
            incident: "@R.incident_id",
            title: "''",
            body: format!(
                "@R.summary || ' ' || coalesce(@R.customer_impact, '') || ' ' || {} || ' ' || {} || ' ' || {}",
                list_text("@R.open_issues"),
                list_text("@R.resolved_issues"),
                list_text("@R.current_actions")
            ),
            facts: "''".into(),
            condition: "TRUE",
            watched: &[
                "summary",
                "customer_impact",
                "open_issues",
                "resolved_issues",
                "current_actions",
            ],
        },
        Source {
            table: "postmortem_sections",
            kind: "postmortem_section",
            incident: "(SELECT p.incident_id FROM postmortems p WHERE p.id = @R.postmortem_id)",
            title: "@R.title",
            body: "@R.body".into(),
            facts: "''".into(),
            // A section nobody has written (the generated timeline and
            // action items, an empty template) would match its title in
            // every post-mortem.
            condition: "@R.body <> ''",
            watched: &["title", "body"],
        },
        Source {
            table: "remediation_items",
            kind: "remediation_item",
            incident: "NULL",
            title: "@R.title",
            body: "coalesce(@R.description, '') || ' ' || coalesce(@R.reason, '')".into(),
            facts: "''".into(),
            condition: "TRUE",
            watched: &["title", "description", "reason"],
        },
    ]
}

impl Source {
    /// The values of this source's entry, the row named `row`.
    fn values(&self, row: &str) -> String {
        format!(
            "'{kind}', {row}.id, {incident}, {title}, {body}, {facts}",
            kind = self.kind,
            incident = self.incident.replace("@R", row),
            title = self.title.replace("@R", row),
            body = self.body.replace("@R", row),
            facts = self.facts.replace("@R", row),
        )
    }

    /// The entry of the row named `row`, if it is indexed.
    fn select(&self, row: &str) -> String {
        format!(
            "SELECT {} WHERE {}",
            self.values(row),
            self.condition.replace("@R", row)
        )
    }

    /// The statement that indexes every existing row of the table.
    pub fn fill_sql(&self) -> String {
        format!(
            "INSERT INTO search_entries (kind, source_id, incident_id, title, body, facts) \
             SELECT {values} FROM {table} r WHERE {condition}",
            values = self.values("r"),
            table = self.table,
            condition = self.condition.replace("@R", "r"),
        )
    }

    fn changed(&self, distinct: &str) -> String {
        self.watched
            .iter()
            .map(|c| format!("old.{c} {distinct} new.{c}"))
            .collect::<Vec<_>>()
            .join(" OR ")
    }

    pub(crate) fn sqlite_triggers(&self) -> Vec<String> {
        let table = self.table;
        let insert = format!(
            "INSERT INTO search_entries (kind, source_id, incident_id, title, body, facts) {}",
            self.select("new")
        );
        vec![
            format!(
                "CREATE TRIGGER search_{table}_insert AFTER INSERT ON {table} BEGIN {insert}; END"
            ),
            format!(
                "CREATE TRIGGER search_{table}_update AFTER UPDATE OF {cols} ON {table} WHEN {changed} \
                 BEGIN DELETE FROM search_entries WHERE source_id = old.id; {insert}; END",
                cols = self.watched.join(", "),
                changed = self.changed("IS NOT"),
            ),
            format!(
                "CREATE TRIGGER search_{table}_delete AFTER DELETE ON {table} \
                 BEGIN DELETE FROM search_entries WHERE source_id = old.id; END"
            ),
        ]
    }

    pub(crate) fn postgres_triggers(&self) -> Vec<String> {
        let table = self.table;
        vec![
            format!(
                "CREATE FUNCTION search_sync_{table}() RETURNS trigger LANGUAGE plpgsql AS $$ \
                 BEGIN \
                   IF TG_OP <> 'INSERT' THEN DELETE FROM search_entries WHERE source_id = OLD.id; END IF; \
                   IF TG_OP <> 'DELETE' THEN \
                     INSERT INTO search_entries (kind, source_id, incident_id, title, body, facts) {select}; \
                   END IF; \
                   RETURN NULL; \
                 END $$",
                select = self.select("NEW")
            ),
            format!(
                "CREATE TRIGGER search_sync AFTER INSERT OR DELETE ON {table} \
                 FOR EACH ROW EXECUTE FUNCTION search_sync_{table}()"
            ),
            format!(
                "CREATE TRIGGER search_sync_update AFTER UPDATE OF {cols} ON {table} \
                 FOR EACH ROW WHEN ({changed}) EXECUTE FUNCTION search_sync_{table}()",
                cols = self.watched.join(", "),
                changed = self.changed("IS DISTINCT FROM"),
            ),
        ]
    }
}

/// The PostgreSQL text search document of one text: ASCII punctuation
/// becomes a space (as unicode61 splits there), accents go (as
/// `remove_diacritics` does), then the `simple` configuration (lower case,
/// no stemming, no stop words: the same words FTS5 sees).
const POSTGRES_FUNCTIONS: &str = r#"
CREATE FUNCTION debrief_search_text(input text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT public.unaccent('public.unaccent'::regdictionary,
       regexp_replace(input, '[!-/:-@\[-`{-~]+', ' ', 'g')) $$
"#;

/// SQLite's FTS5 table over `search_entries` and the triggers that keep it.
pub(crate) fn sqlite_index() -> Vec<String> {
    vec![
        "CREATE VIRTUAL TABLE search_fts USING fts5(title, body, facts, \
         content='search_entries', content_rowid='id', \
         tokenize='unicode61 remove_diacritics 2')"
            .into(),
        "CREATE TRIGGER search_entries_fts_insert AFTER INSERT ON search_entries BEGIN \
         INSERT INTO search_fts (rowid, title, body, facts) \
         VALUES (new.id, new.title, new.body, new.facts); END"
            .into(),
        "CREATE TRIGGER search_entries_fts_delete AFTER DELETE ON search_entries BEGIN \
         INSERT INTO search_fts (search_fts, rowid, title, body, facts) \
         VALUES ('delete', old.id, old.title, old.body, old.facts); END"
            .into(),
    ]
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(SearchEntries::Table)
                    .col(
                        big_integer(SearchEntries::Id)
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(string_len(SearchEntries::Kind, 32))
                    .col(uuid_uniq(SearchEntries::SourceId))
                    .col(uuid_null(SearchEntries::IncidentId))
                    .col(text(SearchEntries::Title))
                    .col(text(SearchEntries::Body))
                    .col(text(SearchEntries::Facts))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_search_entries_incident")
                    .table(SearchEntries::Table)
                    .col(SearchEntries::IncidentId)
                    .to_owned(),
            )
            .await?;
        let db = manager.get_connection();
        let postgres = manager.get_database_backend() == DbBackend::Postgres;
        let mut statements = Vec::new();
        if postgres {
            statements
                .push("CREATE EXTENSION IF NOT EXISTS unaccent WITH SCHEMA public".to_string());
            statements.push(POSTGRES_FUNCTIONS.to_string());
            statements.push(
                "ALTER TABLE search_entries ADD COLUMN document tsvector GENERATED ALWAYS AS ( \
                   setweight(to_tsvector('simple'::regconfig, debrief_search_text(title)), 'A') || \
                   setweight(to_tsvector('simple'::regconfig, debrief_search_text(facts)), 'B') || \
                   setweight(to_tsvector('simple'::regconfig, debrief_search_text(body)), 'C') \
                 ) STORED"
                    .into(),
            );
            statements.push(
                "CREATE INDEX idx_search_entries_document ON search_entries USING GIN (document)"
                    .into(),
            );
            // Related incidents search incidents only: their own, smaller index.
            statements.push(
                "CREATE INDEX idx_search_entries_incident_document ON search_entries \
                 USING GIN (document) WHERE kind = 'incident'"
                    .into(),
            );
        } else {
            statements.extend(sqlite_index());
        }
        for source in sources() {
            statements.push(source.fill_sql());
            if postgres {
                statements.extend(source.postgres_triggers());
            } else {
                statements.extend(source.sqlite_triggers());
            }
        }
        for statement in statements {
            db.execute_unprepared(&statement).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        let postgres = manager.get_database_backend() == DbBackend::Postgres;
        for source in sources() {
            let table = source.table;
            if postgres {
                db.execute_unprepared(&format!(
                    "DROP TRIGGER search_sync ON {table}; \
                     DROP TRIGGER search_sync_update ON {table}; \
                     DROP FUNCTION search_sync_{table}()"
                ))
                .await?;
            } else {
                for event in ["insert", "update", "delete"] {
                    db.execute_unprepared(&format!("DROP TRIGGER search_{table}_{event}"))
                        .await?;
                }
            }
        }
        if !postgres {
            db.execute_unprepared("DROP TABLE search_fts").await?;
        }
        manager
            .drop_table(Table::drop().table(SearchEntries::Table).to_owned())
            .await?;
        if postgres {
            db.execute_unprepared("DROP FUNCTION debrief_search_text(text)")
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum SearchEntries {
    Table,
    Id,
    Kind,
    SourceId,
    IncidentId,
    Title,
    Body,
    Facts,
}
