//! The outbox: one delivery of one message to one recipient (an e-mail
//! address or a webhook URL), with its attempts.

use sea_orm::entity::prelude::*;

use crate::domain::{ChannelKind, text_enum};

text_enum! {
    /// What a delivery carries.
    pub enum DeliveryKind {
        /// The weekly Ops Review digest.
        Digest = "digest",
        /// A new sitrep version, to an incident's channel.
        Sitrep = "sitrep",
        /// A reminder of overdue work.
        Reminder = "reminder",
    }
}

text_enum! {
    /// Where a delivery stands in the outbox.
    pub enum DeliveryStatus {
        /// Waiting for its next attempt.
        Pending = "pending",
        /// Leased by a worker until `locked_until`.
        Sending = "sending",
        /// Accepted by the server or webhook.
        Sent = "sent",
        /// Given up after `jobs.max_attempts`, or at once when no retry can help.
        Failed = "failed",
    }
}

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "deliveries")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// What makes this delivery unique (`digest:2026-W47:1:ana@example.com`).
    #[sea_orm(unique)]
    pub delivery_key: String,
    pub kind: DeliveryKind,
    pub channel: ChannelKind,
    pub recipient: String,
    pub subject: String,
    /// Text body (e-mail) or JSON body (webhook); the digest's bodies come
    /// from its archive row instead.
    #[sea_orm(column_type = "Text")]
    pub payload: String,
    /// HTML body of an e-mail, the alternative to `payload`; none for
    /// webhooks, digests and mails queued before HTML was written.
    #[sea_orm(column_type = "Text", nullable)]
    pub html: Option<String>,
    pub message_id: String,
    pub digest_week: Option<String>,
    pub send_number: Option<i32>,
    pub sitrep_id: Option<Uuid>,
    pub status: DeliveryStatus,
    pub attempts: i32,
    pub next_attempt_at: DateTimeUtc,
    pub locked_until: Option<DateTimeUtc>,
    pub last_error: Option<String>,
    pub sent_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
