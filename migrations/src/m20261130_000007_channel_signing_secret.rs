//! A signing secret per notification channel: webhook calls carry an
//! HMAC-SHA256 signature made with it. Channels created before this get a
//! random secret of their own (nobody has seen it; re-create the channel to
//! get one that is shown).

use sea_orm_migration::{prelude::*, schema::*, sea_orm::DbBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // SQLite adds a NOT NULL column only with a default; every row gets
        // a real secret right after, and the service always writes one.
        manager
            .alter_table(
                Table::alter()
                    .table(IncidentChannels::Table)
                    .add_column(string_len(IncidentChannels::SigningSecret, 100).default(""))
                    .to_owned(),
            )
            .await?;
        let db = manager.get_connection();
        // `whsec_` and 32 random bytes in hex, as the service makes them.
        // PostgreSQL: two random (v4) UUIDs, 244 random bits, hashed.
        let random_secret = match manager.get_database_backend() {
            DbBackend::Postgres => {
                "'whsec_' || encode(sha256(convert_to(gen_random_uuid()::text || gen_random_uuid()::text, 'UTF8')), 'hex')"
            }
            _ => "'whsec_' || lower(hex(randomblob(32)))",
        };
        db.execute_unprepared(&format!(
            "UPDATE incident_channels SET signing_secret = {random_secret}"
        ))
        .await?;
        if manager.get_database_backend() == DbBackend::Postgres {
            db.execute_unprepared(
                "ALTER TABLE incident_channels ALTER COLUMN signing_secret DROP DEFAULT",
            )
            .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(IncidentChannels::Table)
                    .drop_column(IncidentChannels::SigningSecret)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum IncidentChannels {
    Table,
    SigningSecret,
}
