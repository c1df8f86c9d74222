//! Slack-compatible incoming webhooks: a POST of `{"text": "…"}`.

use std::time::Duration;

use anyhow::Context as _;

/// Posts webhook payloads.
#[derive(Debug, Clone)]
pub struct WebhookClient {
    http: reqwest::Client,
}

impl WebhookClient {
    pub fn new() -> anyhow::Result<Self> {
        Ok(Self {
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(15))
                .build()
                .context("cannot build the webhook HTTP client")?,
        })
    }

    /// POST the JSON `payload` to `url`; anything but a 2xx is an error.
    pub async fn post(&self, url: &str, payload: &str) -> anyhow::Result<()> {
        let response = self
            .http
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(payload.to_string())
            .send()
            .await
            .context("the webhook did not answer")?;
        let status = response.status();
        anyhow::ensure!(status.is_success(), "the webhook answered {status}");
        Ok(())
    }
}

/// The JSON body of a Slack-compatible message.
pub fn slack_payload(text: &str) -> String {
    serde_json::json!({ "text": text }).to_string()
}
