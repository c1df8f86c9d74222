//! Bringing the stored data up to date once the schema is (after
//! `db::migrate`, at every start and on `debrief migrate`): work on rows,
//! so it belongs to the services rather than to the migrations, which call
//! no service.

use chrono::{DateTime, Utc};
use sea_orm::DatabaseConnection;

use super::{ServiceError, postmortems};
use crate::config::Settings;

/// Every incident has its post-mortem (incidents recorded before
/// post-mortems existed get theirs here, once), and every post-mortem's due
/// date in force follows the configured periods (read again only when those
/// changed since the last start).
pub async fn bring_up_to_date(
    db: &DatabaseConnection,
    settings: &Settings,
    now: DateTime<Utc>,
) -> Result<(), ServiceError> {
    let due = &settings.postmortem_due;
    postmortems::ensure_all(db, due, now).await?;
    postmortems::sync_due_on_if_changed(db, due, now).await?;
    Ok(())
}
