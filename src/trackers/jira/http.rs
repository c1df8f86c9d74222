//! Calls to Jira's REST API and how their failures become [`TrackerError`]s.
//!
//! Rate limits as Atlassian documents them
//! (<https://developer.atlassian.com/cloud/jira/platform/rate-limiting/>):
//! a `429` with `Retry-After` (seconds) and/or `X-RateLimit-Reset` (an ISO
//! 8601 time, `yyyy-MM-ddTHH:mmZ`); a `503` may carry `Retry-After` too.
//! Errors: `{"errorMessages": [...], "errors": {...}}`
//! (<https://developer.atlassian.com/cloud/jira/platform/rest/v3/intro/#status-codes>).

use std::fmt;

use anyhow::anyhow;
use chrono::{DateTime, NaiveDateTime, TimeDelta, Utc};
use reqwest::{
    Method, StatusCode, Url,
    header::{self, HeaderMap, HeaderValue},
};
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::{
    settings::{JiraDeployment, JiraSettings},
    wire::ErrorBody,
};
use crate::{clock::SharedClock, trackers::TrackerError};

/// `User-Agent` of every call.
pub const USER_AGENT: &str = concat!("debrief/", env!("CARGO_PKG_VERSION"));

/// The most of an answer that is read: an issue with the few fields asked
/// for is a few kilobytes.
const MAX_ANSWER_BYTES: usize = 2 * 1024 * 1024;

/// The longest error detail kept from Jira's answer.
const MAX_DETAIL_CHARS: usize = 500;

/// When no header says how long to wait after a 429.
const DEFAULT_RATE_LIMIT_WAIT: TimeDelta = TimeDelta::seconds(60);

/// The longest wait a header may ask for: a day.
const MAX_RATE_LIMIT_WAIT: TimeDelta = TimeDelta::days(1);

/// The REST client of one Jira site.
pub struct Http {
    client: reqwest::Client,
    /// `{base_url}/rest/api/3` (Cloud) or `…/2` (Data Center).
    api: String,
    authorization: HeaderValue,
    clock: SharedClock,
}

impl fmt::Debug for Http {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Http")
            .field("api", &self.api)
            .field("authorization", &"***")
            .finish()
    }
}

/// A 2xx answer.
pub struct Answer {
    pub status: StatusCode,
    pub body: Vec<u8>,
}

impl Http {
    pub fn new(settings: &JiraSettings, site: &Url, clock: SharedClock) -> anyhow::Result<Self> {
        let credentials = match settings.deployment {
            JiraDeployment::Cloud => {
                use base64::Engine as _;
                let email = settings.email.as_deref().unwrap_or_default();
                let pair = format!("{email}:{}", settings.api_token);
                format!(
                    "Basic {}",
                    base64::engine::general_purpose::STANDARD.encode(pair)
                )
            }
            JiraDeployment::DataCenter => format!("Bearer {}", settings.api_token),
        };
        let mut authorization = HeaderValue::from_str(&credentials)
            .map_err(|_| anyhow!("trackers.jira.api_token holds characters a header cannot"))?;
        authorization.set_sensitive(true);
        let origin = site.origin();
        let client = reqwest::Client::builder()
            .timeout(settings.timeout())
            .connect_timeout(settings.timeout())
            .user_agent(USER_AGENT)
            // Credentials go to the configured site only: a redirect to
            // another origin is not followed (and is reported).
            .redirect(reqwest::redirect::Policy::custom(move |attempt| {
                if attempt.previous().len() >= 5 || attempt.url().origin() != origin {
                    attempt.stop()
                } else {
                    attempt.follow()
                }
            }))
            .build()?;
        let version = match settings.deployment {
            JiraDeployment::Cloud => "3",
            JiraDeployment::DataCenter => "2",
        };
        Ok(Self {
            client,
            api: format!("{}/rest/api/{version}", site.as_str().trim_end_matches('/')),
            authorization,
            clock,
        })
    }

    /// Call `{api}/{path}`; anything but a 2xx is an error.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<&Value>,
    ) -> Result<Answer, TrackerError> {
        let url = format!("{}/{path}", self.api);
        let mut request = self
            .client
            .request(method.clone(), &url)
            .header(header::AUTHORIZATION, self.authorization.clone())
            .header(header::ACCEPT, "application/json")
            .query(query);
        if let Some(body) = body {
            request = request.json(body);
        }
        let mut response = request.send().await.map_err(|e| {
            TrackerError::Unavailable(
                anyhow::Error::new(e.without_url())
                    .context(format!("no answer from Jira to {method} {path}")),
            )
        })?;
        let status = response.status();
        let headers = response.headers().clone();
        let mut bytes = Vec::new();
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) => {
                    if bytes.len() + chunk.len() > MAX_ANSWER_BYTES {
                        return Err(TrackerError::Unavailable(anyhow!(
                            "Jira's answer to {method} {path} is larger than {MAX_ANSWER_BYTES} bytes"
                        )));
                    }
                    bytes.extend_from_slice(&chunk);
                }
                Ok(None) => break,
                Err(e) => {
                    return Err(TrackerError::Unavailable(
                        anyhow::Error::new(e.without_url())
                            .context(format!("Jira's answer to {method} {path} broke off")),
                    ));
                }
            }
        }
        if status.is_success() {
            return Ok(Answer {
                status,
                body: bytes,
            });
        }
        Err(classify(status, &headers, &bytes, self.clock.now()))
    }

    /// Call and read the answer as `T`.
    pub async fn json<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<&Value>,
    ) -> Result<T, TrackerError> {
        let answer = self.call(method.clone(), path, query, body).await?;
        serde_json::from_slice(&answer.body).map_err(|e| {
            TrackerError::Unavailable(anyhow::Error::new(e).context(format!(
                "Jira's answer ({}) to {method} {path} is not the documented JSON",
                answer.status
            )))
        })
    }
}

/// What a non-2xx answer means.
pub fn classify(
    status: StatusCode,
    headers: &HeaderMap,
    body: &[u8],
    now: DateTime<Utc>,
) -> TrackerError {
    let code = status.as_u16();
    let limited = rate_limit_headers(headers);
    match code {
        429 => TrackerError::RateLimited {
            retry_at: retry_at(headers, now).unwrap_or(now + DEFAULT_RATE_LIMIT_WAIT),
        },
        403 | 503 if limited => TrackerError::RateLimited {
            retry_at: retry_at(headers, now).unwrap_or(now + DEFAULT_RATE_LIMIT_WAIT),
        },
        401 | 403 => TrackerError::Unauthorized { status: code },
        404 => TrackerError::NotFound,
        300..=399 => TrackerError::Rejected {
            status: code,
            detail: "Jira answered with a redirect to another site, which is not followed: \
                     check trackers.jira.base_url"
                .into(),
        },
        400..=499 => TrackerError::Rejected {
            status: code,
            detail: error_detail(status, body),
        },
        _ => TrackerError::Unavailable(anyhow!(
            "Jira answered {status}: {}",
            error_detail(status, body)
        )),
    }
}

/// Does the answer carry Atlassian's rate-limit headers?
fn rate_limit_headers(headers: &HeaderMap) -> bool {
    headers.contains_key(header::RETRY_AFTER)
        || headers.contains_key("ratelimit-reason")
        || headers.contains_key("x-ratelimit-reset")
        || headers
            .get("x-ratelimit-remaining")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim() == "0")
}

/// When to try again: `Retry-After` (seconds or an HTTP date), else
/// `X-RateLimit-Reset` (ISO 8601, or Unix seconds); at least a second and
/// at most a day away.
pub fn retry_at(headers: &HeaderMap, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let text = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    };
    let at = text("retry-after")
        .and_then(|v| {
            v.parse::<i64>()
                .ok()
                .map(|s| now + TimeDelta::seconds(s.clamp(0, MAX_RATE_LIMIT_WAIT.num_seconds())))
                .or_else(|| {
                    DateTime::parse_from_rfc2822(v)
                        .ok()
                        .map(|t| t.with_timezone(&Utc))
                })
        })
        .or_else(|| text("x-ratelimit-reset").and_then(parse_reset))?;
    Some(at.clamp(now + TimeDelta::seconds(1), now + MAX_RATE_LIMIT_WAIT))
}

fn parse_reset(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .ok()
        .or_else(|| {
            NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%MZ")
                .ok()
                .map(|t| t.and_utc())
        })
        .or_else(|| {
            text.parse::<i64>()
                .ok()
                .and_then(|s| DateTime::from_timestamp(s, 0))
        })
}

/// Jira's words for a refusal, bounded; the status text if it gave none.
fn error_detail(status: StatusCode, body: &[u8]) -> String {
    let detail = serde_json::from_slice::<ErrorBody>(body)
        .ok()
        .and_then(|b| b.detail())
        .unwrap_or_else(|| {
            status
                .canonical_reason()
                .unwrap_or("no reason given")
                .to_string()
        });
    if detail.chars().count() > MAX_DETAIL_CHARS {
        let cut: String = detail.chars().take(MAX_DETAIL_CHARS).collect();
        format!("{cut}…")
    } else {
        detail
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 20, 10, 0, 0).unwrap()
    }

    fn answer(status: u16, headers: &[(&'static str, &str)], body: &str) -> TrackerError {
        let mut map = HeaderMap::new();
        for (name, value) in headers {
            map.insert(*name, value.parse().unwrap());
        }
        classify(
            StatusCode::from_u16(status).unwrap(),
            &map,
            body.as_bytes(),
            now(),
        )
    }

    fn retry(error: TrackerError) -> DateTime<Utc> {
        match error {
            TrackerError::RateLimited { retry_at } => retry_at,
            other => panic!("not rate limited: {other:?}"),
        }
    }

    #[test]
    fn rate_limits_say_when_to_retry() {
        let at = |s: i64| now() + TimeDelta::seconds(s);
        assert_eq!(retry(answer(429, &[("retry-after", "30")], "")), at(30));
        assert_eq!(retry(answer(429, &[], "")), at(60), "no header: a minute");
        assert_eq!(
            retry(answer(
                429,
                &[("x-ratelimit-reset", "2026-11-20T10:05Z")],
                ""
            )),
            at(300)
        );
        assert_eq!(
            retry(answer(
                429,
                &[("retry-after", "Fri, 20 Nov 2026 10:02:00 GMT")],
                ""
            )),
            at(120)
        );
        assert_eq!(
            retry(answer(429, &[("retry-after", "99999999")], "")),
            at(86_400),
            "a day at most"
        );
        assert_eq!(retry(answer(429, &[("retry-after", "0")], "")), at(1));
        let limited = [("x-ratelimit-remaining", "0"), ("retry-after", "7")];
        assert_eq!(retry(answer(403, &limited, "")), at(7));
        assert_eq!(retry(answer(503, &[("retry-after", "9")], "")), at(9));
    }

    #[test]
    fn other_failures() {
        assert!(matches!(
            answer(403, &[], ""),
            TrackerError::Unauthorized { status: 403 }
        ));
        assert!(matches!(
            answer(401, &[], ""),
            TrackerError::Unauthorized { status: 401 }
        ));
        assert!(matches!(answer(404, &[], ""), TrackerError::NotFound));
        assert!(matches!(answer(503, &[], ""), TrackerError::Unavailable(_)));
        assert!(matches!(
            answer(500, &[], "oops"),
            TrackerError::Unavailable(_)
        ));
        assert!(matches!(
            answer(302, &[], ""),
            TrackerError::Rejected { status: 302, .. }
        ));
        match answer(400, &[], "<html>") {
            TrackerError::Rejected { detail, .. } => assert_eq!(detail, "Bad Request"),
            other => panic!("{other:?}"),
        }
        let long = format!(r#"{{"errorMessages": ["{}"]}}"#, "x".repeat(2000));
        match answer(400, &[], &long) {
            TrackerError::Rejected { detail, .. } => {
                assert_eq!(detail.chars().count(), MAX_DETAIL_CHARS + 1)
            }
            other => panic!("{other:?}"),
        }
    }
}
