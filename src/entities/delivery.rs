//! The outbox: one delivery of one message to one recipient (an e-mail
//! address or a webhook URL), with its attempts.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "deliveries")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// What makes this delivery unique (`digest:2026-W47:1:ana@example.com`).
    #[sea_orm(unique)]
    pub delivery_key: String,
    /// `digest`, `sitrep` or `reminder`.
    pub kind: String,
    /// `email` or `webhook`.
    pub channel: String,
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
    /// `pending`, `sending`, `sent` or `failed` (gave up).
    pub status: String,
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
