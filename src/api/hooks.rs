//! `POST /hooks/{tracker}`: webhook deliveries from issue trackers, outside
//! `/api/v1` (the tracker proves itself with its signature, not a token).
//! The body is read up to `trackers.webhook_body_limit_bytes`; a bad
//! signature is a 401 that changes nothing.

use poem::{Body, Request, Response, handler, http::StatusCode, web::Data, web::Path};

use super::problem::Problem;
use crate::{
    domain::TrackerKind,
    services::{
        Context, ServiceError,
        tracker_sync::webhook::{WebhookOutcome, receive},
    },
    trackers::WebhookHeaders,
};

fn problem(err: ServiceError) -> Response {
    Problem::from(err).into_poem_response()
}

/// Receive one delivery: 202 with what was done, or a problem.
#[handler]
pub async fn receive_hook(
    req: &Request,
    Path(tracker): Path<String>,
    body: Body,
    Data(ctx): Data<&Context>,
) -> Response {
    let Ok(kind) = tracker.parse::<TrackerKind>() else {
        return problem(ServiceError::NotFound(format!("the tracker {tracker:?}")));
    };
    let limit = ctx.settings.trackers.webhook_body_limit_bytes;
    let bytes = match body.into_bytes_limit(limit).await {
        Ok(bytes) => bytes,
        Err(_) => {
            return Problem::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!(
                    "a webhook body is at most {limit} bytes (trackers.webhook_body_limit_bytes)"
                ),
            )
            .with_field(Some("body".into()))
            .into_poem_response();
        }
    };
    let headers: WebhookHeaders = req
        .headers()
        .iter()
        .filter_map(|(name, value)| {
            Some((
                name.as_str().to_ascii_lowercase(),
                value.to_str().ok()?.to_string(),
            ))
        })
        .collect();
    match receive(ctx, kind, &headers, req.uri().query(), &bytes).await {
        Ok(outcome) => {
            let outcome = match outcome {
                WebhookOutcome::Ignored => "ignored",
                WebhookOutcome::Replayed => "replayed",
                WebhookOutcome::Unlinked => "unlinked",
                WebhookOutcome::Applied(_) => "applied",
            };
            Response::builder()
                .status(StatusCode::ACCEPTED)
                .content_type("application/json")
                .body(serde_json::json!({ "outcome": outcome }).to_string())
        }
        Err(err) => problem(err),
    }
}
