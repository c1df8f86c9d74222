//! Incoming Jira webhooks: checking who sent them and reading issue events.
//!
//! - Jira Cloud admin webhooks registered with a secret, and Jira Data
//!   Center 10 and later, sign the raw body: `X-Hub-Signature:
//!   sha256=<hex HMAC-SHA256 of the body keyed with the secret>`
//!   (<https://developer.atlassian.com/cloud/jira/platform/webhooks/#secure-admin-webhooks>,
//!   <https://confluence.atlassian.com/adminjiraserver/managing-webhooks-938846912.html>).
//! - Older Data Center versions sign nothing: there the secret rides in the
//!   webhook's URL, `?secret=…` (accepted only with `deployment =
//!   "data_center"`).
//!
//! Both comparisons take the same time whatever the guess. The payload
//! (`timestamp`, `webhookEvent`, `user`, `issue`) is the one of the
//! webhook page's example; `X-Atlassian-Webhook-Identifier` names a
//! delivery and stays the same across Jira's retries.

use hmac::{Hmac, Mac};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::{
    settings::JiraDeployment,
    wire::{Issue, User},
};
use crate::trackers::{WebhookError, WebhookEvent, WebhookHeaders};

/// The header of the signature.
pub const SIGNATURE_HEADER: &str = "x-hub-signature";

/// The header naming a delivery.
pub const DELIVERY_HEADER: &str = "x-atlassian-webhook-identifier";

/// The events that carry an issue Debrief reads.
const ISSUE_EVENTS: &[&str] = &["jira:issue_created", "jira:issue_updated"];

/// The longest delivery id kept.
const MAX_DELIVERY_ID: usize = 200;

/// `sha256=<hex>` of `body` keyed with `secret`: what Jira sends.
pub fn signature(secret: &str, body: &[u8]) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes a key of any length");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// Is the request from Jira? A signature, when present, decides; without
/// one, a Data Center site may give the secret in the query.
pub fn authenticate(
    secret: &str,
    deployment: JiraDeployment,
    headers: &WebhookHeaders,
    query: Option<&str>,
    body: &[u8],
) -> Result<(), WebhookError> {
    if let Some(given) = headers.get(SIGNATURE_HEADER) {
        let hex_digest = given
            .trim()
            .strip_prefix("sha256=")
            .ok_or(WebhookError::BadSignature)?;
        let digest = hex::decode(hex_digest).map_err(|_| WebhookError::BadSignature)?;
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes())
            .expect("HMAC takes a key of any length");
        mac.update(body);
        // `verify_slice` compares in constant time.
        return mac
            .verify_slice(&digest)
            .map_err(|_| WebhookError::BadSignature);
    }
    if deployment == JiraDeployment::DataCenter
        && let Some(given) = query.and_then(query_secret)
        && same_secret(&given, secret)
    {
        return Ok(());
    }
    Err(WebhookError::BadSignature)
}

/// The decoded `secret` parameter of a query string.
fn query_secret(query: &str) -> Option<String> {
    query.split('&').find_map(|pair| {
        let (name, value) = pair.split_once('=')?;
        (name == "secret").then(|| {
            percent_encoding::percent_decode_str(&value.replace('+', " "))
                .decode_utf8_lossy()
                .into_owned()
        })
    })
}

/// Equal secrets, compared in a time that depends on neither: both are
/// hashed to 32 bytes first, then every byte is compared.
fn same_secret(given: &str, expected: &str) -> bool {
    let a = Sha256::digest(given.as_bytes());
    let b = Sha256::digest(expected.as_bytes());
    a.iter()
        .zip(b.iter())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y))
        == 0
}

#[derive(Debug, Deserialize)]
struct Envelope {
    #[serde(rename = "webhookEvent")]
    event: String,
}

#[derive(Debug, Deserialize)]
struct IssuePayload {
    #[serde(default)]
    timestamp: Option<i64>,
    #[serde(default)]
    user: Option<User>,
    issue: Issue,
}

/// Read a verified body: `Ok(None)` for events that are not about an issue.
pub fn read_event(
    headers: &WebhookHeaders,
    body: &[u8],
    browse: &str,
) -> Result<Option<WebhookEvent>, WebhookError> {
    let envelope: Envelope = parse(body)?;
    if !ISSUE_EVENTS.contains(&envelope.event.as_str()) {
        return Ok(None);
    }
    let payload: IssuePayload = parse(body)?;
    let delivery_id = match headers
        .get(DELIVERY_HEADER)
        .map(|id| id.trim())
        .filter(|id| !id.is_empty())
    {
        Some(id) if id.len() <= MAX_DELIVERY_ID => id.to_string(),
        Some(_) => {
            return Err(WebhookError::Malformed(format!(
                "{DELIVERY_HEADER}: longer than {MAX_DELIVERY_ID} characters"
            )));
        }
        None => {
            let timestamp = payload.timestamp.ok_or_else(|| {
                WebhookError::Malformed(format!(
                    "timestamp: missing (needed without an {DELIVERY_HEADER} header)"
                ))
            })?;
            format!("{timestamp}:{}:{}", payload.issue.key, envelope.event)
        }
    };
    // Jira omits `user` for changes nobody made (automation run as the
    // app, some imports): the history still needs an actor.
    let actor = payload
        .user
        .as_ref()
        .and_then(User::id)
        .map(|id| format!("jira:{id}"))
        .unwrap_or_else(|| "jira:unknown".into());
    Ok(Some(WebhookEvent {
        delivery_id,
        actor,
        issue: payload.issue.into_remote(browse),
    }))
}

/// Deserialise, naming the field that does not fit.
fn parse<'a, T: Deserialize<'a>>(body: &'a [u8]) -> Result<T, WebhookError> {
    let mut de = serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if inner.is_syntax() || inner.is_eof() {
            WebhookError::Malformed(format!("the body is not JSON: {inner}"))
        } else if path == "." {
            WebhookError::Malformed(inner.to_string())
        } else {
            WebhookError::Malformed(format!("{path}: {inner}"))
        }
    })
}
