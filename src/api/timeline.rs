//! `/incidents/{reference}/timeline`: one event or a batch, idempotent on
//! `(source, external_id)`.

use chrono::{DateTime, Utc};
use poem::web::Data;
use poem_openapi::{
    ApiResponse, Object, OpenApi, Union,
    param::{Path, Query},
    payload::Json,
};
use serde::Deserialize;
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

/// A timeline event to store.
#[derive(Debug, Clone, Object, Deserialize)]
pub struct CreateTimelineEvent {
    /// When it happened; now when absent.
    #[oai(nullable)]
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
}

fn to_new(
    field: &str,
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
                let new = to_new("", event, now)?;
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
                    .map(|(i, e)| to_new(&format!("events[{i}]."), e, now))
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
