//! `/digests`: the weekly Ops Review digest: archive, preview, downloads
//! and (re)sends.

use chrono::{DateTime, Utc};
use poem::web::Data;
use poem_openapi::{
    ApiResponse, Object, OpenApi, ResponseContent,
    param::Path,
    payload::{Binary, Html, Json, PlainText},
};
use serde::Deserialize;

use super::{ApiJson, ApiTags, TokenAuth, stats::PeriodStats};
use crate::{
    api::problem::ApiResult,
    domain::{ChannelKind, IsoWeek, Scope, SendTrigger},
    entities::{delivery, digest_send},
    notify::webhook::masked_target,
    services::{Context, ServiceError, digests},
};

/// One delivery of a message to one recipient, from the outbox.
#[derive(Debug, Clone, Object)]
pub struct Delivery {
    /// E-mail address or webhook URL; a token with only the `read` scope
    /// sees webhook URLs masked to scheme, host and port
    /// (`https://hooks.slack.com/…`).
    pub recipient: String,
    /// `email` or `webhook`.
    pub channel: String,
    /// `pending` (waiting for its next attempt), `sending`, `sent`, or
    /// `failed` (gave up after `jobs.max_attempts`).
    pub status: String,
    /// Attempts made so far.
    pub attempts: i32,
    /// When the next attempt is due (while `pending`).
    pub next_attempt_at: DateTime<Utc>,
    /// Why the last attempt failed.
    #[oai(nullable)]
    pub last_error: Option<String>,
    /// When the server or webhook accepted it.
    #[oai(nullable)]
    pub sent_at: Option<DateTime<Utc>>,
    /// The digest send it belongs to (digests only).
    #[oai(nullable)]
    pub send_number: Option<i32>,
    /// The e-mail's Message-ID (stable per message and recipient).
    pub message_id: String,
}

impl Delivery {
    /// The delivery as a token of `scope` may see it.
    pub fn shown_to(d: delivery::Model, scope: Scope) -> Self {
        let masked = d.channel == ChannelKind::Webhook && !scope.allows(Scope::Write);
        Self {
            recipient: if masked {
                masked_target(&d.recipient)
            } else {
                d.recipient
            },
            channel: d.channel.to_string(),
            status: d.status.to_string(),
            attempts: d.attempts,
            next_attempt_at: d.next_attempt_at,
            last_error: d.last_error,
            sent_at: d.sent_at,
            send_number: d.send_number,
            message_id: d.message_id,
        }
    }
}

/// One send of a week's digest.
#[derive(Debug, Clone, Object)]
pub struct DigestSend {
    /// 1 for the first send, 2, 3 … for each re-send.
    pub send_number: i32,
    /// `schedule`, `api` or `cli`.
    pub trigger: String,
    /// The API token's name, for sends through the API.
    #[oai(nullable)]
    pub requested_by: Option<String>,
    /// How many recipients it was queued for.
    pub recipients: i32,
    /// When it was queued.
    pub created_at: DateTime<Utc>,
}

impl From<digest_send::Model> for DigestSend {
    fn from(s: digest_send::Model) -> Self {
        Self {
            send_number: s.send_number,
            trigger: s.trigger.to_string(),
            requested_by: s.requested_by,
            recipients: s.recipients,
            created_at: s.created_at,
        }
    }
}

/// An archived week.
#[derive(Debug, Clone, Object)]
pub struct ArchivedDigest {
    /// ISO week, `2026-W47`.
    pub week: String,
    /// Monday 00:00 in `time_zone`.
    pub period_start: DateTime<Utc>,
    /// The next Monday 00:00 in `time_zone` (excluded).
    pub period_end: DateTime<Utc>,
    /// IANA zone of the week's boundaries.
    pub time_zone: String,
    /// When the archived content was generated (at its latest send).
    pub generated_at: DateTime<Utc>,
    /// Every send, first to last.
    pub sends: Vec<DigestSend>,
    /// One record per recipient and send.
    pub deliveries: Vec<Delivery>,
}

/// The archive.
#[derive(Debug, Clone, Object)]
pub struct DigestList {
    /// Every archived week, newest first (the list is always complete).
    pub items: Vec<ArchivedDigest>,
    /// Always absent: the list is not paged.
    #[oai(nullable)]
    pub next_cursor: Option<String>,
}

/// Which week to preview.
#[derive(Debug, Clone, Object, Deserialize)]
pub struct PreviewDigestRequest {
    /// ISO week, `2026-W47`.
    #[oai(validator(pattern = "^(19[7-9][0-9]|[2-9][0-9]{3})-W(0[1-9]|[1-4][0-9]|5[0-3])$"))]
    pub week: String,
}

crate::serde_json_body!(PreviewDigestRequest);

/// A week's digest generated from the data as it is now, not stored.
#[derive(Debug, Clone, Object)]
pub struct DigestPreview {
    /// ISO week.
    pub week: String,
    /// Monday 00:00 in `time_zone`.
    pub period_start: DateTime<Utc>,
    /// The next Monday 00:00 (excluded).
    pub period_end: DateTime<Utc>,
    /// IANA zone of the week's boundaries.
    pub time_zone: String,
    /// The week's figures.
    pub stats: PeriodStats,
    /// The digest as Markdown (the other formats are at `/digests/{week}.{html|pdf}`).
    pub markdown: String,
}

/// How to send.
#[derive(Debug, Clone, Default, Object, Deserialize)]
pub struct SendDigestRequest {
    /// Mail a week that was already sent once more (recorded as the next send).
    #[oai(default)]
    #[serde(default)]
    pub resend: bool,
}

crate::serde_json_body!(SendDigestRequest);

/// What was queued.
#[derive(Debug, Clone, Object)]
pub struct DigestQueued {
    /// ISO week.
    pub week: String,
    /// This send's number: 1 for the first, then one more per re-send.
    pub send_number: i32,
    /// Who it is queued for; each gets one delivery.
    pub recipients: Vec<String>,
}

#[derive(ApiResponse)]
pub enum DigestsListed {
    /// The archive.
    #[oai(status = 200)]
    Ok(Json<DigestList>),
}

#[derive(ApiResponse)]
pub enum DigestPreviewed {
    /// The preview.
    #[oai(status = 200)]
    Ok(Json<DigestPreview>),
}

#[derive(ApiResponse)]
pub enum DigestSent {
    /// Queued in the outbox; deliveries follow.
    #[oai(status = 202)]
    Accepted(Json<DigestQueued>),
}

/// A digest document.
#[derive(ResponseContent)]
pub enum DigestDocument {
    /// The Markdown source.
    #[oai(content_type = "text/markdown; charset=utf-8")]
    Markdown(PlainText<String>),
    /// The HTML page, chart inline.
    Html(Html<String>),
    /// The PDF.
    #[oai(content_type = "application/pdf")]
    Pdf(Binary<Vec<u8>>),
    /// The trend chart.
    #[oai(content_type = "image/png")]
    Png(Binary<Vec<u8>>),
}

#[derive(ApiResponse)]
pub enum DigestDownloaded {
    /// The document: the archived one when the week was sent, otherwise
    /// generated now.
    #[oai(status = 200)]
    Ok(DigestDocument),
}

pub struct DigestsApi;

fn week(field: &str, text: &str) -> Result<IsoWeek, ServiceError> {
    Ok(IsoWeek::parse(field, text)?)
}

#[OpenApi(tag = "ApiTags::Digests")]
impl DigestsApi {
    /// List the digest archive
    ///
    /// Every week that was sent, with its sends and one delivery record
    /// per recipient and send.
    #[oai(path = "/digests", method = "get", operation_id = "list_digests")]
    async fn list_digests(
        &self,
        auth: TokenAuth,
        Data(ctx): Data<&Context>,
    ) -> ApiResult<DigestsListed> {
        let scope = auth.require(Scope::Read)?.scope;
        let items = digests::list(ctx)
            .await?
            .into_iter()
            .map(|a| ArchivedDigest {
                week: a.digest.week,
                period_start: a.digest.period_start,
                period_end: a.digest.period_end,
                time_zone: a.digest.time_zone,
                generated_at: a.digest.generated_at,
                sends: a.sends.into_iter().map(DigestSend::from).collect(),
                deliveries: a
                    .deliveries
                    .into_iter()
                    .map(|d| Delivery::shown_to(d, scope))
                    .collect(),
            })
            .collect();
        Ok(DigestsListed::Ok(Json(DigestList {
            items,
            next_cursor: None,
        })))
    }

    /// Preview a week's digest
    ///
    /// Generates any week from the data as it is now, without storing or
    /// sending anything.
    #[oai(path = "/digests", method = "post", operation_id = "preview_digest")]
    async fn preview_digest(
        &self,
        auth: TokenAuth,
        Data(ctx): Data<&Context>,
        body: ApiJson<PreviewDigestRequest>,
    ) -> ApiResult<DigestPreviewed> {
        auth.require(Scope::Read)?;
        let week = week("week", &body.0.week)?;
        let generated = digests::generate_in_turn(ctx, week).await?;
        Ok(DigestPreviewed::Ok(Json(DigestPreview {
            week: week.to_string(),
            period_start: generated.period_start,
            period_end: generated.period_end,
            time_zone: generated.time_zone,
            stats: generated.stats.into(),
            markdown: generated.markdown,
        })))
    }

    /// Download a week's digest
    ///
    /// `{file}` is the week and a format: `2026-W47.md`, `.html`, `.pdf`, or
    /// `.png` for the trend chart alone. A week that was sent is served
    /// from the archive; any other week is generated now.
    #[oai(path = "/digests/:file", method = "get", operation_id = "get_digest")]
    async fn get_digest(
        &self,
        auth: TokenAuth,
        Data(ctx): Data<&Context>,
        /// `2026-W47.md`, `2026-W47.html`, `2026-W47.pdf` or `2026-W47.png`.
        #[oai(validator(
            pattern = "^(19[7-9][0-9]|[2-9][0-9]{3})-W(0[1-9]|[1-4][0-9]|5[0-3])\\.(md|html|pdf|png)$"
        ))]
        file: Path<String>,
    ) -> ApiResult<DigestDownloaded> {
        auth.require(Scope::Read)?;
        let (name, format) = file.0.rsplit_once('.').unwrap_or((file.0.as_str(), ""));
        let week = week("file", name)?;
        let digest = digests::get_or_preview(ctx, week).await?;
        let document =
            match format {
                "md" => DigestDocument::Markdown(PlainText(digest.markdown)),
                "html" => DigestDocument::Html(Html(digest.html)),
                "png" => DigestDocument::Png(Binary(digest.chart_png)),
                "pdf" => DigestDocument::Pdf(Binary(digest.pdf.ok_or_else(|| {
                    ServiceError::NotFound(format!("the PDF of the digest {week}"))
                })?)),
                other => {
                    return Err(ServiceError::validation(
                        "file",
                        format!("`{other}` is not a digest format: md, html, pdf or png"),
                    )
                    .into());
                }
            };
        Ok(DigestDownloaded::Ok(document))
    }

    /// Send a week's digest
    ///
    /// Generates the week, archives it and queues one delivery per
    /// configured recipient in the outbox (answered 202; the outbox worker
    /// mails them). A week already sent is refused with 409 unless
    /// `resend` is true; a re-send is recorded as the next send number.
    #[oai(
        path = "/digests/:week/send",
        method = "post",
        operation_id = "send_digest"
    )]
    async fn send_digest(
        &self,
        auth: TokenAuth,
        Data(ctx): Data<&Context>,
        /// ISO week, `2026-W47`.
        #[oai(validator(pattern = "^(19[7-9][0-9]|[2-9][0-9]{3})-W(0[1-9]|[1-4][0-9]|5[0-3])$"))]
        week: Path<String>,
        body: ApiJson<SendDigestRequest>,
    ) -> ApiResult<DigestSent> {
        auth.require(Scope::Write)?;
        let week = self::week("week", &week.0)?;
        let queued = digests::send(
            ctx,
            week,
            body.0.resend,
            SendTrigger::Api,
            Some(auth.0.token_name.clone()),
        )
        .await?;
        Ok(DigestSent::Accepted(Json(DigestQueued {
            week: queued.week.to_string(),
            send_number: queued.send_number,
            recipients: queued.recipients,
        })))
    }
}
