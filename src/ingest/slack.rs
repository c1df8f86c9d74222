//! Slack exports into internal `note` events of one incident: a channel's
//! messages as one JSON array (one day file, or a whole channel), or a
//! workspace export ZIP (`channels.json`, `users.json`,
//! `<channel>/<YYYY-MM-DD>.json`) with the channel chosen by name.
//!
//! Join/leave messages and bot messages are skipped (and counted); the
//! message `ts` (epoch seconds with a fraction, unique in a channel) is the
//! external id, so importing the same export twice stores each message once.
//! User ids become names (`users.json`, else the messages' own
//! `user_profile`), and the text becomes Markdown ([`super::mrkdwn`]).
//!
//! Slack truncates a message's text at 40,000 characters
//! (docs.slack.dev/reference/methods/chat.postMessage); Debrief keeps
//! [`BODY_MAX`] = 100,000, which the converted text (longer by a few
//! characters per link or resolved mention) fits in practice; anything
//! longer is shortened and kept whole ([`Fit`]).
//!
//! A ZIP is read, never unpacked to disk: entries are looked up by the
//! names Debrief builds itself (so names such as `../x` are never used),
//! at most [`MAX_ZIP_ENTRIES`] entries, only stored or deflated ones, and
//! everything read counts against the import limit once unpacked, so a
//! small archive that unpacks to gigabytes (a "zip bomb") is refused as soon
//! as it passes the limit.

use std::{
    cell::Cell,
    collections::BTreeSet,
    io::{BufRead, Read, Seek},
    rc::Rc,
};

use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::{
    BODY_MAX, EventBatcher, EventRecord, Fit, NAME_MAX, ParseOptions, Record, Sink,
    mrkdwn::{self, Names},
    parse_error, read_document, starts_as_zip, stopped,
};
use crate::{
    domain::{EventSource, TimelineKind, Visibility},
    ingest::ImportError,
};

/// Entries a workspace export ZIP may hold.
pub const MAX_ZIP_ENTRIES: usize = 100_000;

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

#[derive(Deserialize, Default)]
struct Profile {
    #[serde(default)]
    real_name: Option<String>,
    #[serde(default)]
    display_name: Option<String>,
    #[serde(default)]
    name: Option<String>,
}

/// An entry of `users.json`.
#[derive(Deserialize)]
struct User {
    id: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    real_name: Option<String>,
    #[serde(default)]
    profile: Option<Profile>,
}

/// An entry of `channels.json` (or `groups.json`, private channels).
#[derive(Deserialize)]
struct Channel {
    id: String,
    name: String,
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

/// The first non-blank of the given names.
fn first_name<'a>(names: impl IntoIterator<Item = &'a Option<String>>) -> Option<String> {
    names
        .into_iter()
        .flatten()
        .find(|n| !n.trim().is_empty())
        .cloned()
}

/// The name a person goes by: the real name, else the display name.
fn profile_name(p: &Profile) -> Option<String> {
    first_name([&p.real_name, &p.display_name, &p.name])
}

/// `"1562075520.000200"` → the instant, to the microsecond.
fn parse_ts(field: &str, ts: &str) -> Result<DateTime<Utc>, ImportError> {
    let bad = || {
        ImportError::invalid(
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

pub fn parse(
    mut reader: impl BufRead + Seek,
    options: &ParseOptions,
    sink: Sink<'_>,
) -> Result<(), ImportError> {
    let zip = starts_as_zip(&mut reader).map_err(ImportError::Read)?;
    if zip {
        return parse_zip(reader, options, sink);
    }
    if options.channel.is_some() {
        return Err(ImportError::invalid(
            "channel",
            "`channel` chooses a channel of a Slack workspace export (a ZIP); \
             this file is one channel's messages (a JSON array): leave `channel` out",
        ));
    }
    let messages: Vec<Message> = read_document(reader)?;
    // Without users.json, the messages' own profiles name their authors.
    let mut names = Names::default();
    for m in &messages {
        if let (Some(id), Some(name)) = (&m.user, m.user_profile.as_ref().and_then(profile_name)) {
            names.users.entry(id.clone()).or_insert(name);
        }
    }
    let mut reading = ChannelReader::new(names);
    reading.messages("", messages, sink)?;
    reading.finish(sink)
}

/// Converts the messages of one channel, file after file.
struct ChannelReader {
    names: Names,
    fit: Fit,
    skipped: u64,
}

impl ChannelReader {
    fn new(names: Names) -> Self {
        Self {
            names,
            fit: Fit::default(),
            skipped: 0,
        }
    }

    /// The messages of one file; `file` prefixes their paths (`""` for a
    /// lone JSON array, `incident-42/2026-11-20.json` in a ZIP).
    fn messages(
        &mut self,
        file: &str,
        messages: Vec<Message>,
        sink: Sink<'_>,
    ) -> Result<(), ImportError> {
        let mut events = EventBatcher::new(file);
        for (i, message) in messages.into_iter().enumerate() {
            let p = |f: &str| format!("{file}[{i}].{f}");
            let noise = message.bot_id.is_some()
                || message
                    .subtype
                    .as_deref()
                    .is_some_and(|s| NOISE.contains(&s));
            let text = message.text.unwrap_or_default();
            if noise || text.trim().is_empty() {
                self.skipped += 1;
                continue;
            }
            let occurred_at = parse_ts(&p("ts"), &message.ts)?;
            let author = message
                .user
                .as_ref()
                .and_then(|id| self.names.users.get(id).cloned())
                .or_else(|| message.user_profile.as_ref().and_then(profile_name))
                .or(message.user);
            let body = mrkdwn::to_markdown(&text, &self.names);
            let record = EventRecord {
                id: None,
                occurred_at,
                kind: TimelineKind::Note,
                body: self.fit.required(&p("text"), &body, BODY_MAX)?,
                author: self.fit.optional(&p("user"), author, NAME_MAX)?,
                source: EventSource::Chat,
                external_id: Some(message.ts.clone()),
                visibility: Visibility::Internal,
            };
            events.push(i, record, sink).map_err(stopped)?;
            self.fit
                .flush(
                    EventSource::Chat,
                    &message.ts,
                    occurred_at,
                    i,
                    &mut events,
                    sink,
                )
                .map_err(stopped)?;
        }
        events.flush(sink).map_err(stopped)
    }

    fn finish(self, sink: Sink<'_>) -> Result<(), ImportError> {
        sink(Record::Skipped(self.skipped)).map_err(stopped)
    }
}

/// Counts what is unpacked against the import limit; past it, reading
/// fails and `exceeded` is set.
struct Budget {
    left: Rc<Cell<u64>>,
    exceeded: Rc<Cell<bool>>,
}

struct Counted<R> {
    inner: R,
    left: Rc<Cell<u64>>,
    exceeded: Rc<Cell<bool>>,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        match self.left.get().checked_sub(n as u64) {
            Some(left) => {
                self.left.set(left);
                Ok(n)
            }
            None => {
                self.exceeded.set(true);
                Err(std::io::Error::other("the import limit was reached"))
            }
        }
    }
}

/// A workspace export, open.
struct Export<R: Read + Seek> {
    archive: ::zip::ZipArchive<R>,
    /// The names of its entries.
    names: Vec<String>,
    /// The folder holding `channels.json` (`""`, or one top folder).
    root: String,
    budget: Budget,
    limit: u64,
}

fn zip_error(err: ::zip::result::ZipError) -> ImportError {
    use ::zip::result::ZipError;
    match err {
        ZipError::Io(e) => ImportError::ZipRead(e),
        ZipError::UnsupportedArchive(what) => ImportError::invalid(
            "body",
            format!("this ZIP cannot be read: {what}; a Slack export is a plain ZIP"),
        ),
        ZipError::CompressionMethodNotSupported(m) => ImportError::invalid(
            "body",
            format!(
                "the ZIP uses compression method {m}; only stored and deflated entries are read"
            ),
        ),
        other => ImportError::NotZip(other),
    }
}

impl<R: Read + Seek> Export<R> {
    /// Read one JSON entry whole; errors name the entry (`users.json[3].id`).
    fn read<T: serde::de::DeserializeOwned>(&mut self, name: &str) -> Result<T, ImportError> {
        let shown = name.strip_prefix(&self.root).unwrap_or(name).to_string();
        let limit = self.limit;
        let file = self.archive.by_name(name).map_err(zip_error)?;
        if file.encrypted() {
            return Err(ImportError::invalid(
                "body",
                format!("`{shown}` in the ZIP is encrypted; Slack exports are not"),
            ));
        }
        if !matches!(
            file.compression(),
            ::zip::CompressionMethod::Stored | ::zip::CompressionMethod::Deflated
        ) {
            return Err(ImportError::invalid(
                "body",
                format!(
                    "`{shown}` in the ZIP uses compression method {:?}; only stored and \
                     deflated entries are read",
                    file.compression()
                ),
            ));
        }
        if file.size() > self.budget.left.get() {
            return Err(ImportError::LimitExceeded { limit });
        }
        let counted = Counted {
            inner: file,
            left: self.budget.left.clone(),
            exceeded: self.budget.exceeded.clone(),
        };
        let value: Result<serde_json::Value, _> =
            serde_json::from_reader(std::io::BufReader::new(counted));
        let value = match value {
            Ok(v) => v,
            Err(_) if self.budget.exceeded.get() => {
                return Err(ImportError::LimitExceeded { limit });
            }
            Err(err) => return Err(parse_error(&shown, err)),
        };
        super::from_value(&shown, value)
    }
}

/// The names of a list, for an error: sorted, at most 50.
fn listing(names: &BTreeSet<String>) -> String {
    let mut shown: Vec<&str> = names.iter().map(String::as_str).take(50).collect();
    if names.len() > shown.len() {
        shown.push("…");
    }
    format!("{} ({} in all)", shown.join(", "), names.len())
}

/// `YYYY-MM-DD.json`.
fn is_day_file(name: &str) -> bool {
    let b = name.as_bytes();
    name.len() == 15
        && name.ends_with(".json")
        && b[..10].iter().enumerate().all(|(i, c)| {
            if i == 4 || i == 7 {
                *c == b'-'
            } else {
                c.is_ascii_digit()
            }
        })
}

fn parse_zip<R: Read + Seek>(
    reader: R,
    options: &ParseOptions,
    sink: Sink<'_>,
) -> Result<(), ImportError> {
    let mut export = Export::open(reader, options.max_unpacked_bytes)?;
    let (channels, lookup) = export.directory()?;
    let channel = chosen_channel(options.channel.as_deref(), &channels)?;
    let mut reading = ChannelReader::new(lookup);
    for day in export.day_files(&channel) {
        let messages: Vec<Message> = export.read(&day)?;
        let shown = day.strip_prefix(&export.root).unwrap_or(&day);
        reading.messages(shown, messages, sink)?;
    }
    reading.finish(sink)
}

impl<R: Read + Seek> Export<R> {
    /// Open the archive and find its `channels.json`: at the top, or in one
    /// top folder (an export unpacked and packed again).
    fn open(reader: R, limit: u64) -> Result<Self, ImportError> {
        let archive = ::zip::ZipArchive::new(reader).map_err(zip_error)?;
        if archive.len() > MAX_ZIP_ENTRIES {
            return Err(ImportError::invalid(
                "body",
                format!(
                    "the ZIP holds {} entries; at most {MAX_ZIP_ENTRIES} are read",
                    archive.len()
                ),
            ));
        }
        let names: Vec<String> = archive
            .file_names()
            .filter_map(Result::ok)
            .map(|n| n.into_owned())
            .collect();
        let root = names
            .iter()
            .filter_map(|n| n.strip_suffix("channels.json"))
            .filter(|root| {
                root.is_empty() || (root.ends_with('/') && root.matches('/').count() == 1)
            })
            .min_by_key(|root| root.len())
            .map(str::to_string)
            .ok_or_else(|| {
                ImportError::invalid(
                    "body",
                    "this ZIP is not a Slack workspace export: it has no `channels.json`",
                )
            })?;
        Ok(Self {
            archive,
            names,
            root,
            budget: Budget {
                left: Rc::new(Cell::new(limit)),
                exceeded: Rc::new(Cell::new(false)),
            },
            limit,
        })
    }

    /// Whether the export has `file` in its root folder.
    fn has(&self, file: &str) -> bool {
        let wanted = format!("{}{file}", self.root);
        self.names.contains(&wanted)
    }

    /// The channels (`channels.json`, `groups.json`) and the names of
    /// channels and people (`users.json`) the messages refer to.
    fn directory(&mut self) -> Result<(Vec<Channel>, Names), ImportError> {
        let root = self.root.clone();
        let mut channels: Vec<Channel> = self.read(&format!("{root}channels.json"))?;
        if self.has("groups.json") {
            channels.extend(self.read::<Vec<Channel>>(&format!("{root}groups.json"))?);
        }
        let mut lookup = Names::default();
        for c in &channels {
            lookup.channels.insert(c.id.clone(), c.name.clone());
        }
        if self.has("users.json") {
            for user in self.read::<Vec<User>>(&format!("{root}users.json"))? {
                let name = user
                    .profile
                    .as_ref()
                    .and_then(profile_name)
                    .or_else(|| first_name([&user.real_name, &user.name]));
                if let Some(name) = name {
                    lookup.users.insert(user.id, name);
                }
            }
        }
        Ok((channels, lookup))
    }

    /// The day files of `channel` (`<channel>/YYYY-MM-DD.json`), in order.
    fn day_files(&self, channel: &str) -> Vec<String> {
        let folder = format!("{}{channel}/", self.root);
        let mut days: Vec<String> = self
            .names
            .iter()
            .filter(|n| n.strip_prefix(&folder).is_some_and(is_day_file))
            .cloned()
            .collect();
        days.sort();
        days
    }
}

/// The channel `chosen` names, which the export must have; an export holds
/// several, so one must be chosen.
fn chosen_channel(chosen: Option<&str>, channels: &[Channel]) -> Result<String, ImportError> {
    let available: BTreeSet<String> = channels.iter().map(|c| c.name.clone()).collect();
    match chosen {
        None => Err(ImportError::invalid(
            "channel",
            format!(
                "a Slack workspace export holds several channels: choose one with \
                 `channel`; this one has {}",
                listing(&available)
            ),
        )),
        Some(c) if !available.contains(c) => Err(ImportError::invalid(
            "channel",
            format!(
                "there is no channel {c:?} in this export; it has {}",
                listing(&available)
            ),
        )),
        Some(c) => Ok(c.to_string()),
    }
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

    #[test]
    fn day_files_are_dates() {
        assert!(is_day_file("2026-11-20.json"));
        for name in [
            "2026-11-20.json.bak",
            "../x.json",
            "2026_11_20.json",
            "notes.json",
        ] {
            assert!(!is_day_file(name), "{name}");
        }
    }
}
