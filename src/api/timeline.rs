//! `/incidents/{reference}/timeline`: one event or a batch, idempotent on
//! `(source, external_id)`.

use chrono::{DateTime, FixedOffset, Utc};
use poem::web::Data;
use poem_openapi::{
    ApiResponse, Object, OpenApi, Union,
    param::{Path, Query},
    payload::Json,
};
use serde::{Deserialize, Deserializer};
use uuid::Uuid;

use super::{
    ApiJson, ApiTags, JsonBody, TokenAuth,
    json::{BodyError, parse_value},
    params::IncidentParam,
};
use crate::{
    api::problem::ApiResult,
    clock::micros,
    domain::{
        EventBody, EventSource, ExternalId, Scope, ShortText, TimelineKind, Visibility,
        text::present,
    },
    entities::timeline_event,
    services::{
        Context, ServiceError,
        pagination::PageRequest,
        timeline::{self, MAX_BATCH, NewTimelineEvent, TimelineFilter},
    },
};

/// One entry of an incident's timeline.
#[derive(Debug, Clone, Object)]
pub struct TimelineEvent {
    /// Unique id.
    pub id: Uuid,
    /// The incident.
    pub incident_id: Uuid,
    /// When it happened.
    pub occurred_at: DateTime<Utc>,
    /// What it records.
    pub kind: TimelineKind,
    /// What happened (Markdown).
    pub body: String,
    /// Who wrote or did it.
    #[oai(nullable)]
    pub author: Option<String>,
    /// Where it came from; `system` events are Debrief's own.
    pub source: EventSource,
    /// The id in the source system.
    #[oai(nullable)]
    pub external_id: Option<String>,
    /// `internal`, or `public` to show it in the public post-mortem.
    pub visibility: Visibility,
    /// When Debrief stored it.
    pub created_at: DateTime<Utc>,
}

impl From<timeline_event::Model> for TimelineEvent {
    fn from(m: timeline_event::Model) -> Self {
        Self {
            id: m.id,
            incident_id: m.incident_id,
            occurred_at: m.occurred_at,
            kind: m.kind,
            body: m.body,
            author: m.author,
            source: m.source,
            external_id: m.external_id,
            visibility: m.visibility,
            created_at: m.created_at,
        }
    }
}

// Its serde reading refuses whatever its schema refuses (unknown fields,
// a `date-time` of another format, and the rules of its text and enum
// types), so that a batch can be read without the schema check
// (`TimelineInput::from_valid_bytes`; a test holds the two readings to
// the same answers).
/// A timeline event to store.
#[derive(Debug, Clone, Object, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateTimelineEvent {
    /// When it happened; now when absent.
    #[oai(nullable)]
    #[serde(default, deserialize_with = "date_time")]
    pub occurred_at: Option<DateTime<Utc>>,
    /// What it records.
    pub kind: TimelineKind,
    /// What happened (Markdown, up to 100,000 characters).
    pub body: EventBody,
    /// Who wrote or did it.
    #[oai(nullable)]
    pub author: Option<ShortText>,
    /// Where it came from; `api` when absent. `system` is reserved.
    #[oai(nullable)]
    pub source: Option<EventSource>,
    /// The id in the source system: an event with the same `source` and
    /// `external_id` is stored once.
    #[oai(nullable)]
    pub external_id: Option<ExternalId>,
    /// `internal` (default) or `public`.
    #[oai(nullable)]
    pub visibility: Option<Visibility>,
}

/// Up to 10,000 events stored in one transaction.
#[derive(Debug, Clone, Object, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimelineBatch {
    /// The events.
    #[oai(validator(max_items = 10000))]
    pub events: Vec<CreateTimelineEvent>,
}

/// One event, or a batch `{"events": [...]}`.
#[derive(Debug, Clone, Union)]
#[oai(one_of)]
pub enum TimelineInput {
    /// A batch of events.
    Batch(TimelineBatch),
    /// A single event.
    One(CreateTimelineEvent),
}

impl JsonBody for TimelineInput {
    fn from_value(value: serde_json::Value) -> Result<Self, BodyError> {
        if value.get("events").is_some() {
            parse_value("", value).map(TimelineInput::Batch)
        } else {
            parse_value("", value).map(TimelineInput::One)
        }
    }

    /// A batch (the body ingestion sends, thousands of events) straight
    /// from its bytes. Of the schema's rules, serde leaves only the item
    /// count to check here.
    fn from_valid_bytes(bytes: &[u8]) -> Option<Self> {
        let batch: TimelineBatch = serde_json::from_slice(bytes).ok()?;
        (batch.events.len() <= MAX_BATCH).then_some(TimelineInput::Batch(batch))
    }
}

/// An optional `date-time` as the schema states it (RFC 3339, checked as
/// the body validators check it), read as chrono reads a `DateTime<Utc>`.
fn date_time<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<DateTime<Utc>>, D::Error> {
    struct Rfc3339(DateTime<Utc>);

    impl<'de> Deserialize<'de> for Rfc3339 {
        fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            deserializer.deserialize_str(Rfc3339Visitor)
        }
    }

    struct Rfc3339Visitor;

    impl serde::de::Visitor<'_> for Rfc3339Visitor {
        type Value = Rfc3339;

        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("an RFC 3339 date-time")
        }

        fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<Rfc3339, E> {
            if !crate::api::spec::is_date_time(text) {
                return Err(E::custom(format!("{text:?} is not an RFC 3339 date-time")));
            }
            text.parse::<DateTime<FixedOffset>>()
                .map(|t| Rfc3339(t.with_timezone(&Utc)))
                .map_err(E::custom)
        }
    }

    Option::<Rfc3339>::deserialize(deserializer).map(|t| t.map(|t| t.0))
}

/// `field` is the path prefix of the event's fields in the body, formatted
/// only for an error (a batch's events would otherwise each make a string).
fn to_new(
    field: std::fmt::Arguments<'_>,
    e: CreateTimelineEvent,
    now: DateTime<Utc>,
) -> Result<NewTimelineEvent, ServiceError> {
    let source = e.source.unwrap_or(EventSource::Api);
    if source == EventSource::System {
        return Err(ServiceError::validation(
            format!("{field}source"),
            "`source: system` is reserved for Debrief's own events",
        ));
    }
    Ok(NewTimelineEvent {
        occurred_at: e.occurred_at.map(micros).unwrap_or(now),
        kind: e.kind,
        body: e.body.into_inner(),
        author: present(e.author),
        source,
        external_id: present(e.external_id),
        visibility: e.visibility.unwrap_or(Visibility::Internal),
    })
}

/// What a batch did.
#[derive(Debug, Clone, Object)]
pub struct TimelineIngestSummary {
    /// Events in the request.
    pub received: u64,
    /// Events stored now.
    pub created: u64,
    /// Events already stored before (same `source` and `external_id`).
    pub duplicates: u64,
}

/// A page of timeline events, oldest first.
#[derive(Debug, Clone, Object)]
pub struct TimelineEventList {
    /// The events on this page.
    pub items: Vec<TimelineEvent>,
    /// Pass as `cursor` to get the next page; absent on the last page.
    #[oai(nullable)]
    pub next_cursor: Option<String>,
}

#[derive(ApiResponse)]
pub enum TimelineAdded {
    /// The single event was stored.
    #[oai(status = 201)]
    Created(Json<TimelineEvent>),
    /// For a single event that was stored before: the stored event. For a
    /// batch: how many events were new.
    #[oai(status = 200)]
    Ok(Json<TimelineResult>),
}

/// The answer to a timeline POST.
#[derive(Debug, Clone, Union)]
#[oai(one_of)]
pub enum TimelineResult {
    /// What a batch did.
    Summary(TimelineIngestSummary),
    /// The event that was already stored.
    Existing(TimelineEvent),
}

#[derive(ApiResponse)]
pub enum TimelineListed {
    /// A page of the timeline.
    #[oai(status = 200)]
    Ok(Json<TimelineEventList>),
}

pub struct TimelineApi;

#[OpenApi(tag = "ApiTags::Timeline")]
impl TimelineApi {
    /// Add timeline events
    ///
    /// One event, or `{"events": [...]}` with up to 10,000 events stored in
    /// one transaction. Events with a `(source, external_id)` already stored
    /// are not stored again: a re-sent batch is safe.
    #[oai(
        path = "/incidents/:reference/timeline",
        method = "post",
        operation_id = "add_timeline_events"
    )]
    async fn add_timeline_events(
        &self,
        auth: TokenAuth,
        Data(ctx): Data<&Context>,
        /// The incident's UUID or `INC-n` reference.
        reference: Path<IncidentParam>,
        body: ApiJson<TimelineInput>,
    ) -> ApiResult<TimelineAdded> {
        auth.require(Scope::Write)?;
        let reference = reference.get("reference")?;
        let now = ctx.now();
        match body.0 {
            TimelineInput::One(event) => {
                let new = to_new(format_args!(""), event, now)?;
                let (stored, created) = timeline::add_one(ctx, reference, new).await?;
                let stored = TimelineEvent::from(stored);
                Ok(if created {
                    TimelineAdded::Created(Json(stored))
                } else {
                    TimelineAdded::Ok(Json(TimelineResult::Existing(stored)))
                })
            }
            TimelineInput::Batch(batch) => {
                if batch.events.len() > MAX_BATCH {
                    return Err(ServiceError::validation(
                        "events",
                        format!("a batch holds at most {MAX_BATCH} events; split it"),
                    )
                    .into());
                }
                let events = batch
                    .events
                    .into_iter()
                    .enumerate()
                    .map(|(i, e)| to_new(format_args!("events[{i}]."), e, now))
                    .collect::<Result<Vec<_>, _>>()?;
                let summary = timeline::add_batch(ctx, reference, events).await?;
                Ok(TimelineAdded::Ok(Json(TimelineResult::Summary(
                    TimelineIngestSummary {
                        received: summary.received,
                        created: summary.created,
                        duplicates: summary.received - summary.created,
                    },
                ))))
            }
        }
    }

    /// List the timeline
    ///
    /// Events in time order, optionally only one visibility or kind.
    #[oai(
        path = "/incidents/:reference/timeline",
        method = "get",
        operation_id = "list_timeline_events"
    )]
    #[expect(
        clippy::too_many_arguments,
        reason = "one argument per documented query parameter"
    )]
    async fn list_timeline_events(
        &self,
        auth: TokenAuth,
        Data(ctx): Data<&Context>,
        /// The incident's UUID or `INC-n` reference.
        reference: Path<IncidentParam>,
        /// Only events with this visibility.
        visibility: Query<Option<Visibility>>,
        /// Only events of this kind.
        kind: Query<Option<TimelineKind>>,
        /// Page size (1–500, default 50).
        #[oai(validator(minimum(value = "1"), maximum(value = "500")))]
        limit: Query<Option<u64>>,
        /// The `next_cursor` of the previous page.
        #[oai(validator(max_length = 200))]
        cursor: Query<Option<String>>,
    ) -> ApiResult<TimelineListed> {
        auth.require(Scope::Read)?;
        let page = PageRequest::parse(limit.0, cursor.0.as_deref())?;
        let filter = TimelineFilter {
            visibility: visibility.0,
            kind: kind.0,
        };
        let page = timeline::list(ctx, reference.get("reference")?, filter, page).await?;
        let items = page.items.into_iter().map(TimelineEvent::from).collect();
        Ok(TimelineListed::Ok(Json(TimelineEventList {
            items,
            next_cursor: page.next_cursor,
        })))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::{JsonBody, TimelineInput};
    use crate::api::json::read_checked;

    /// An event that breaks no rule.
    fn valid_event() -> Value {
        json!({
            "kind": "note",
            "body": "Rolled back deploy 1041",
            "occurred_at": "2026-11-20T10:00:00Z",
            "author": "ana",
            "source": "api",
            "external_id": "e-1",
            "visibility": "internal",
        })
    }

    /// The same body read both ways: a body read from its bytes must be one
    /// the checked reading accepts too, with the same events.
    fn both_ways(body: &Value) -> (bool, bool) {
        let bytes = serde_json::to_vec(body).unwrap();
        let fast = TimelineInput::from_valid_bytes(&bytes);
        let checked = read_checked::<TimelineInput>(&bytes);
        match (&fast, &checked) {
            (Some(fast), Ok(checked)) => assert_eq!(
                format!("{fast:?}"),
                format!("{checked:?}"),
                "the two readings differ on {body}"
            ),
            (Some(_), Err(err)) => {
                panic!("read from its bytes, but refused by the checked reading ({err}): {body}")
            }
            _ => {}
        }
        (fast.is_some(), checked.is_ok())
    }

    fn with(field: &str, value: Value) -> Value {
        let mut event = valid_event();
        event[field] = value;
        json!({ "events": [valid_event(), event] })
    }

    fn without(field: &str) -> Value {
        let mut event = valid_event();
        event.as_object_mut().unwrap().remove(field);
        json!({ "events": [valid_event(), event] })
    }

    #[test]
    fn a_batch_read_from_its_bytes_is_one_the_schema_accepts() {
        let long = |c: &str, n: usize| Value::String(c.repeat(n));
        let mut bodies = vec![
            json!({ "events": [] }),
            json!({ "events": [], "extra": 1 }),
            json!({ "events": null }),
            json!({ "events": {} }),
            json!({ "events": [valid_event()], "kind": "note" }),
            json!({ "events": [1] }),
            json!({ "events": [null] }),
            valid_event(),
            with("extra", json!(1)),
            without("kind"),
            without("body"),
            without("occurred_at"),
            without("author"),
            without("source"),
            without("external_id"),
            without("visibility"),
        ];
        for date in [
            json!("2026-11-20T10:00:00Z"),
            json!("2026-11-20T10:00:00.123456Z"),
            json!("2026-11-20T10:00:00.1234567890123Z"),
            json!("2026-11-20T10:00:00+02:00"),
            json!("2026-11-20T10:00:00-00:00"),
            json!("2026-11-20T10:00:00+23:59"),
            json!("2026-11-20T10:00:00+24:00"),
            json!("2026-11-20T10:00:00+0200"),
            json!("2026-11-20t10:00:00z"),
            json!("2026-11-20 10:00:00Z"),
            json!("2026-11-20T10:00:00"),
            json!("2026-11-20"),
            json!("2026-02-30T10:00:00Z"),
            json!("2026-11-20T24:00:00Z"),
            json!("2026-12-31T23:59:60Z"),
            json!("2026-11-20T10:00:00.Z"),
            json!("2026-11-20T10:00:00,5Z"),
            json!("+2026-11-20T10:00:00Z"),
            json!(" 2026-11-20T10:00:00Z"),
            json!("0000-01-01T00:00:00Z"),
            json!("9999-12-31T23:59:59Z"),
            json!(""),
            json!(null),
            json!(5),
        ] {
            bodies.push(with("occurred_at", date));
        }
        for kind in [json!("NOTE"), json!("bogus"), json!(null), json!(3)] {
            bodies.push(with("kind", kind));
        }
        for text in [
            json!("x"),
            json!(""),
            json!("   "),
            json!(" \t\n\r"),
            json!("a\u{0}b"),
            json!("\u{a0}"),
            json!("  padded  "),
            long("x", 100_000),
            long("x", 100_001),
            long("é", 100_000),
            long("é", 100_001),
            json!(null),
            json!(5),
        ] {
            bodies.push(with("body", text));
        }
        for field in ["author", "external_id"] {
            for text in [
                json!(null),
                json!(""),
                json!("  "),
                json!("a\u{0}"),
                long("a", 200),
                long("a", 201),
                long("ß", 200),
                long("ß", 201),
                json!(5),
            ] {
                bodies.push(with(field, text));
            }
        }
        for source in ["api", "system", "API", "bogus"] {
            bodies.push(with("source", json!(source)));
        }
        bodies.push(with("source", json!(null)));
        for visibility in ["public", "internal", "secret"] {
            bodies.push(with("visibility", json!(visibility)));
        }
        bodies.push(with("visibility", json!(null)));

        let (mut fast, mut checked) = (0, 0);
        for body in &bodies {
            let (f, c) = both_ways(body);
            fast += usize::from(f);
            checked += usize::from(c);
        }
        // Every valid batch is read from its bytes (a single event is not a
        // batch: it goes the checked way).
        assert_eq!(
            fast,
            checked - 1,
            "{fast} read from bytes of {checked} valid"
        );
        assert!(fast >= 30, "only {fast} of the bodies were valid");
    }

    #[test]
    fn the_batch_limit_read_from_bytes_is_the_schemas() {
        let spec: Value = serde_json::from_str(&crate::api::spec::spec_json()).unwrap();
        let max_items =
            &spec["components"]["schemas"]["TimelineBatch"]["properties"]["events"]["maxItems"];
        assert_eq!(max_items, &json!(super::MAX_BATCH));
    }

    #[test]
    fn duplicate_keys_and_too_many_events_go_the_checked_way() {
        let event = serde_json::to_string(&valid_event()).unwrap();
        let duplicate = format!(r#"{{"events": [], "events": [{event}]}}"#);
        assert!(TimelineInput::from_valid_bytes(duplicate.as_bytes()).is_none());
        assert!(read_checked::<TimelineInput>(duplicate.as_bytes()).is_ok());

        let many = format!(
            r#"{{"events": [{}]}}"#,
            vec![r#"{"kind": "note", "body": "x"}"#; super::MAX_BATCH + 1].join(",")
        );
        assert!(TimelineInput::from_valid_bytes(many.as_bytes()).is_none());
        let refused = read_checked::<TimelineInput>(many.as_bytes()).unwrap_err();
        assert_eq!(
            refused.status(),
            poem::http::StatusCode::UNPROCESSABLE_ENTITY
        );
    }
}
