//! PostgreSQL: `debrief_search_query(text)`, a search's `tsquery` built
//! once per statement instead of once per row.
//!
//! `to_tsquery('simple', unaccent(…, $1))` is only `STABLE` (`unaccent`
//! reads its dictionary), so PostgreSQL computes it again for every row a
//! filter or `ts_rank` looks at: a related-incidents query of sixteen words
//! walking 4,000 rows spent 86 of its 96 ms parsing the same query. Declared
//! `IMMUTABLE`, like `debrief_search_text` (migration 12), whose
//! dictionary it uses the same way, the planner evaluates it once with the
//! statement's parameter and plans with the resulting query: one parse,
//! and its selectivity known when choosing between the GIN index and a
//! walk by id.
//!
//! That holds for plans made for the parameter's value (custom plans).
//! After five executions of a prepared statement PostgreSQL may switch to
//! a generic plan, made for any value: there the function is called for
//! every row and the query's selectivity is a default guess (the
//! search bench caught a related-incidents statement doing that, 500 to
//! 740 ms instead of 8). `COST 10000` prices what a call per row would
//! cost, so a generic plan never looks cheaper than a custom one and the
//! statements stay on custom plans.

use sea_orm_migration::{prelude::*, sea_orm::DbBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

const CREATE: &str = "CREATE FUNCTION debrief_search_query(input text) RETURNS tsquery \
     LANGUAGE sql IMMUTABLE PARALLEL SAFE COST 10000 \
     AS $$ SELECT to_tsquery('simple'::regconfig, \
            public.unaccent('public.unaccent'::regdictionary, input)) $$";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() == DbBackend::Postgres {
            manager.get_connection().execute_unprepared(CREATE).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() == DbBackend::Postgres {
            manager
                .get_connection()
                .execute_unprepared("DROP FUNCTION debrief_search_query(text)")
                .await?;
        }
        Ok(())
    }
}
