//! Slack-compatible incoming webhooks: a signed POST of `{"text": "…"}`.
//!
//! Every call goes only to an allowed address (see [`address_policy`]),
//! follows no redirect, and carries `Debrief-Signature: t=<unix
//! seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">` made with the channel's
//! secret. What a failed call reports ([`WebhookError`]) names no address,
//! port or system error: it is stored as the delivery's `last_error`.
//!
//! [`address_policy`]: super::address_policy

use std::{sync::Arc, time::Duration};

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use reqwest::Url;
use sha2::Sha256;

use super::address_policy::{AddressPolicy, AddressRefused, PolicyResolver};
use crate::{
    config::WebhookSettings,
    domain::{WEBHOOK_SECRET_PREFIX, WebhookSecret},
};

/// The header that carries the signature.
pub const SIGNATURE_HEADER: &str = "Debrief-Signature";

/// `User-Agent` of every call.
pub const USER_AGENT: &str = concat!("Debrief/", env!("CARGO_PKG_VERSION"));

/// Why a webhook call did not succeed, in words fit for `last_error`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum WebhookError {
    /// The target is, or resolves to, an address that is not allowed.
    #[error("refused: the target address is not allowed")]
    Refused,
    /// The stored target is not an http(s) URL with a host.
    #[error("refused: the target is not an http(s) URL")]
    BadTarget,
    /// The channel's signing secret cannot be used.
    #[error("not sent: the channel's signing secret is not usable")]
    BadSecret,
    /// Redirects are never followed: a 3xx is a failure like any non-2xx.
    #[error("the webhook answered HTTP {0} (redirects are not followed)")]
    Redirect(u16),
    #[error("the webhook answered HTTP {0}")]
    Status(u16),
    #[error("no HTTP answer (connection failed or timed out)")]
    NoAnswer,
}

impl WebhookError {
    /// A failure that no retry can mend.
    pub fn is_permanent(self) -> bool {
        matches!(self, Self::BadTarget | Self::BadSecret)
    }
}

impl From<AddressRefused> for WebhookError {
    fn from(_: AddressRefused) -> Self {
        Self::Refused
    }
}

/// Posts webhook payloads.
#[derive(Debug, Clone)]
pub struct WebhookClient {
    http: reqwest::Client,
    policy: AddressPolicy,
}

impl WebhookClient {
    pub fn new(settings: &WebhookSettings) -> anyhow::Result<Self> {
        let policy = AddressPolicy::new(&settings.allow_addresses);
        Ok(Self {
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(15))
                .redirect(reqwest::redirect::Policy::none())
                // The policy judges the address a call connects to; through
                // a proxy that would be the proxy's.
                .no_proxy()
                .user_agent(USER_AGENT)
                .dns_resolver(Arc::new(PolicyResolver::new(policy.clone())))
                .build()
                .context("cannot build the webhook HTTP client")?,
            policy,
        })
    }

    /// POST the JSON `payload` to `url`, signed with `secret` at `now`;
    /// anything but a 2xx is an error.
    pub async fn post(
        &self,
        url: &str,
        payload: &str,
        secret: &WebhookSecret,
        now: DateTime<Utc>,
    ) -> Result<(), WebhookError> {
        let url = Url::parse(url).map_err(|_| WebhookError::BadTarget)?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(WebhookError::BadTarget);
        }
        // Names are checked by the resolver, after resolution; address
        // literals never reach it.
        self.policy.check_literal(&url)?;
        let signature = signature_header(secret, now.timestamp(), payload)?;
        let shown = masked_target(url.as_str());
        let response = self
            .http
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(SIGNATURE_HEADER, signature)
            .body(payload.to_string())
            .send()
            .await
            .map_err(|err| {
                if refused(&err) {
                    return WebhookError::Refused;
                }
                // The operator's log gets the cause; `last_error` does not.
                tracing::warn!(
                    error = %error_chain(&err.without_url()),
                    "Webhook call to {shown} got no HTTP answer"
                );
                WebhookError::NoAnswer
            })?;
        let status = response.status();
        if status.is_redirection() {
            return Err(WebhookError::Redirect(status.as_u16()));
        }
        if !status.is_success() {
            return Err(WebhookError::Status(status.as_u16()));
        }
        Ok(())
    }
}

/// Was the call stopped by the policy's resolver?
fn refused(err: &reqwest::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = source {
        if e.is::<AddressRefused>() {
            return true;
        }
        source = e.source();
    }
    false
}

fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(e) = source {
        text.push_str(": ");
        text.push_str(&e.to_string());
        source = e.source();
    }
    text
}

/// The `Debrief-Signature` value: `t=<timestamp>,v1=<hex>`, the hex being
/// HMAC-SHA256 of `"<timestamp>.<body>"` keyed with the secret's text
/// (`whsec_…`, prefix included).
pub fn signature_header(
    secret: &WebhookSecret,
    timestamp: i64,
    body: &str,
) -> Result<String, WebhookError> {
    let key = secret.expose();
    if !key.starts_with(WEBHOOK_SECRET_PREFIX) || key.len() <= WEBHOOK_SECRET_PREFIX.len() {
        return Err(WebhookError::BadSecret);
    }
    let mut mac =
        Hmac::<Sha256>::new_from_slice(key.as_bytes()).map_err(|_| WebhookError::BadSecret)?;
    mac.update(format!("{timestamp}.").as_bytes());
    mac.update(body.as_bytes());
    Ok(format!(
        "t={timestamp},v1={}",
        hex::encode(mac.finalize().into_bytes())
    ))
}

/// A webhook URL as a reader without write access may see it: scheme,
/// host and port; user info, path and query (where incoming-webhook URLs
/// keep their credentials) become `…`.
pub fn masked_target(target: &str) -> String {
    match Url::parse(target) {
        Ok(url) => {
            let host = url.host_str().unwrap_or_default();
            let port = url.port().map(|p| format!(":{p}")).unwrap_or_default();
            format!("{}://{host}{port}/…", url.scheme())
        }
        Err(_) => "…".into(),
    }
}

/// The JSON body of a Slack-compatible message. `&`, `<` and `>` are
/// escaped as Slack asks, so text that came from users cannot form
/// control sequences (`<!channel>`, `<@U123>`, `<https://x|links>`): it is
/// shown as typed.
pub fn slack_payload(text: &str) -> String {
    serde_json::json!({ "text": escape_slack(text) }).to_string()
}

/// Slack's escaping of message text.
pub fn escape_slack(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            c => escaped.push(c),
        }
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_sequences_are_escaped() {
        assert_eq!(
            escape_slack("<!channel> & <@U123> <https://evil.example|Click>"),
            "&lt;!channel&gt; &amp; &lt;@U123&gt; &lt;https://evil.example|Click&gt;"
        );
        let payload: serde_json::Value =
            serde_json::from_str(&slack_payload("*INC-1* <!here>")).expect("JSON");
        assert_eq!(payload["text"], "*INC-1* &lt;!here&gt;");
    }

    #[test]
    fn masks_keep_scheme_host_and_port_only() {
        for (target, shown) in [
            (
                "https://hooks.slack.com/services/T000/B000/XXX",
                "https://hooks.slack.com/…",
            ),
            (
                "https://user:pw@hooks.example.com:8443/x?token=abc#f",
                "https://hooks.example.com:8443/…",
            ),
            ("http://[::1]:9000/hook", "http://[::1]:9000/…"),
            ("not a url", "…"),
        ] {
            assert_eq!(masked_target(target), shown, "{target}");
        }
    }

    #[test]
    fn the_signature_is_hmac_sha256_of_timestamp_dot_body() {
        // Key "whsec_test" over "1700000000.{}", computed with Python's
        // hmac module.
        let secret = WebhookSecret::from_stored("whsec_test");
        assert_eq!(
            signature_header(&secret, 1_700_000_000, "{}").expect("signs"),
            "t=1700000000,v1=35495024f4ef3f94e5a93e22221544c4b75e9a42300cd965ab81cb85cd994e91"
        );
        assert_eq!(
            signature_header(&WebhookSecret::from_stored(""), 1, "{}"),
            Err(WebhookError::BadSecret)
        );
    }
}
