//! A Slack channel export (one day file or a whole channel: a JSON array of
//! messages) into internal `note` events of one incident.
//!
//! Join/leave messages and bot messages are skipped (and counted); the
//! message `ts` (epoch seconds with a fraction, unique in a channel) is the
//! external id, so importing the same export twice stores each message once.

use std::io::Read;

use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::{EventBatcher, EventRecord, Record, Sink, read_document, stopped};
use crate::{
    domain::{self, EventSource, TimelineKind, Visibility},
    error::ServiceError,
};

#[derive(Deserialize)]
struct Message {
    ts: String,
    #[serde(default)]
    user: Option<String>,
    #[serde(default)]
    user_profile: Option<Profile>,
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    subtype: Option<String>,
    #[serde(default)]
    bot_id: Option<String>,
}

#[derive(Deserialize)]
struct Profile {
    #[serde(default)]
    real_name: Option<String>,
    #[serde(default)]
    display_name: Option<String>,
    #[serde(default)]
    name: Option<String>,
}

/// Channel noise: people joining or leaving, and bots.
const NOISE: &[&str] = &[
    "channel_join",
    "channel_leave",
    "group_join",
    "group_leave",
    "bot_message",
    "bot_add",
    "bot_remove",
];

/// `"1562075520.000200"` → the instant, to the microsecond.
fn parse_ts(field: &str, ts: &str) -> Result<DateTime<Utc>, ServiceError> {
    let bad = || {
        ServiceError::validation(
            field,
            format!("`{field}` is {ts:?}, not Slack's epoch seconds such as \"1562075520.000200\""),
        )
    };
    let (secs, frac) = ts.split_once('.').unwrap_or((ts, ""));
    if secs.is_empty()
        || !secs.bytes().all(|b| b.is_ascii_digit())
        || frac.len() > 6
        || !frac.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(bad());
    }
    let secs: i64 = secs.parse().map_err(|_| bad())?;
    let micros: u32 = format!("{frac:0<6}").parse().map_err(|_| bad())?;
    DateTime::from_timestamp(secs, micros * 1000).ok_or_else(bad)
}

pub fn parse(reader: impl Read, sink: Sink<'_>) -> Result<(), ServiceError> {
    let messages: Vec<Message> = read_document(reader)?;
    let mut events = EventBatcher::new("");
    let mut skipped = 0;
    for (i, message) in messages.into_iter().enumerate() {
        let p = |f: &str| format!("[{i}].{f}");
        let noise = message.bot_id.is_some()
            || message
                .subtype
                .as_deref()
                .is_some_and(|s| NOISE.contains(&s));
        let text = message.text.unwrap_or_default();
        if noise || text.trim().is_empty() {
            skipped += 1;
            continue;
        }
        let occurred_at = parse_ts(&p("ts"), &message.ts)?;
        let profile = message.user_profile.and_then(|p| {
            [p.real_name, p.display_name, p.name]
                .into_iter()
                .flatten()
                .find(|n| !n.trim().is_empty())
        });
        let record = EventRecord {
            id: None,
            occurred_at,
            kind: TimelineKind::Note,
            body: domain::required_text(&p("text"), &text, 100_000)?,
            author: domain::optional_text(&p("user"), profile.or(message.user), 200)?,
            source: EventSource::Chat,
            external_id: Some(message.ts),
            visibility: Visibility::Internal,
        };
        events.push(i, record, sink).map_err(stopped)?;
    }
    events.flush(sink).map_err(stopped)?;
    sink(Record::Skipped(skipped)).map_err(stopped)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slack_timestamps_keep_microseconds() {
        let t = parse_ts("ts", "1562075520.000200").unwrap();
        assert_eq!(t.to_rfc3339(), "2019-07-02T13:52:00.000200+00:00");
        assert_eq!(
            parse_ts("ts", "1562075520").unwrap().timestamp(),
            1562075520
        );
        for bad in ["", "abc", "1.2.3", "-5.0", "1562075520.1234567"] {
            assert!(parse_ts("ts", bad).is_err(), "{bad:?} must be refused");
        }
    }
}
