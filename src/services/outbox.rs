//! Building outbox rows: every mail and webhook call is one `deliveries`
//! row, written in the transaction of what caused it and sent by the
//! outbox worker (`jobs::outbox`).

use chrono::{DateTime, Utc};
use sea_orm::IntoActiveModel;
use uuid::Uuid;

use crate::{
    config::Settings,
    domain::ChannelKind,
    entities::delivery::{self, DeliveryKind, DeliveryStatus},
    services::new_id,
};

/// What one delivery is: everything but its kind, its channel and its
/// bookkeeping.
#[derive(Debug, Clone, Default)]
pub struct NewDelivery {
    /// Unique: the same key is never queued twice.
    pub key: String,
    pub recipient: String,
    pub subject: String,
    /// The text body of an e-mail, or the JSON body of a webhook call.
    pub payload: String,
    /// The HTML body of an e-mail (sitrep, reminder).
    pub html: Option<String>,
    pub message_id: String,
    pub digest_week: Option<String>,
    pub send_number: Option<i32>,
    pub sitrep_id: Option<Uuid>,
}

/// A pending row, due at once.
pub fn pending(
    kind: DeliveryKind,
    channel: ChannelKind,
    new: NewDelivery,
    now: DateTime<Utc>,
) -> delivery::ActiveModel {
    delivery::Model {
        id: new_id(),
        delivery_key: new.key,
        kind,
        channel,
        recipient: new.recipient,
        subject: new.subject,
        payload: new.payload,
        html: new.html,
        message_id: new.message_id,
        digest_week: new.digest_week,
        send_number: new.send_number,
        sitrep_id: new.sitrep_id,
        status: DeliveryStatus::Pending,
        attempts: 0,
        next_attempt_at: now,
        locked_until: None,
        last_error: None,
        sent_at: None,
        created_at: now,
        updated_at: now,
    }
    .into_active_model()
}

/// The domain of `mail.from`, for Message-IDs.
pub fn message_id_domain(settings: &Settings) -> String {
    settings
        .mail
        .from
        .parse::<lettre::message::Mailbox>()
        .map(|m| m.email.domain().to_string())
        .unwrap_or_else(|_| "debrief.invalid".into())
}

/// A short, stable tag of a recipient for Message-IDs.
pub fn recipient_tag(recipient: &str) -> String {
    use sha2::{Digest as _, Sha256};
    let hash = Sha256::digest(recipient.to_lowercase().as_bytes());
    hex::encode(&hash[..6])
}

/// Deliveries per status (`pending`, `sending`, `sent`, `failed`), for the
/// metrics: one grouped count.
pub async fn counts_by_status<C: sea_orm::ConnectionTrait>(
    db: &C,
) -> Result<Vec<(DeliveryStatus, i64)>, super::ServiceError> {
    use sea_orm::sea_query::ExprTrait as _;
    use sea_orm::{EntityTrait, QuerySelect, sea_query::Expr};
    Ok(delivery::Entity::find()
        .select_only()
        .column(delivery::Column::Status)
        .column_as(Expr::col(delivery::Column::Id).count(), "n")
        .group_by(delivery::Column::Status)
        .into_tuple()
        .all(db)
        .await?)
}
