//! Timeline events: single or batched, idempotent on
//! `(incident, source, external_id)`.

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder,
    QuerySelect, sea_query::OnConflict,
};
use uuid::Uuid;

use super::{
    Context, find_incident, new_id,
    pagination::{Page, PageRequest},
};
use crate::{
    domain::{EventSource, IncidentRef, TimelineKind, Visibility},
    entities::timeline_event,
    error::ServiceError,
};

/// Rows per INSERT statement: below SQLite's bound-parameter limit.
const ROWS_PER_STATEMENT: usize = 1000;

/// The most events one request may carry.
pub const MAX_BATCH: usize = 10_000;

#[derive(Debug, Clone)]
pub struct NewTimelineEvent {
    pub occurred_at: DateTime<Utc>,
    pub kind: TimelineKind,
    pub body: String,
    pub author: Option<String>,
    pub source: EventSource,
    pub external_id: Option<String>,
    pub visibility: Visibility,
}

/// What a batch did.
#[derive(Debug, Clone, Copy)]
pub struct IngestSummary {
    pub received: u64,
    pub created: u64,
}

fn to_model(
    incident_id: Uuid,
    now: DateTime<Utc>,
    event: NewTimelineEvent,
) -> timeline_event::Model {
    timeline_event::Model {
        id: new_id(),
        incident_id,
        occurred_at: event.occurred_at,
        kind: event.kind.as_str().into(),
        body: event.body,
        author: event.author,
        source: event.source.as_str().into(),
        external_id: event.external_id,
        visibility: event.visibility.as_str().into(),
        created_at: now,
        updated_at: now,
    }
}

fn on_conflict() -> OnConflict {
    OnConflict::columns([
        timeline_event::Column::IncidentId,
        timeline_event::Column::Source,
        timeline_event::Column::ExternalId,
    ])
    .do_nothing()
    .to_owned()
}

/// Store one event. Returns the stored event and whether it is new: an
/// event whose `(source, external_id)` was already stored is returned as
/// it was stored.
pub async fn add_one(
    ctx: &Context,
    reference: IncidentRef,
    event: NewTimelineEvent,
) -> Result<(timeline_event::Model, bool), ServiceError> {
    let now = ctx.now();
    let txn = ctx.begin_write().await?;
    let incident = find_incident(&txn, reference).await?;
    let model = to_model(incident.id, now, event);
    let inserted = timeline_event::Entity::insert(model.clone().into_active_model().reset_all())
        .on_conflict(on_conflict())
        .exec_without_returning(&txn)
        .await;
    let created = match inserted {
        Ok(rows) => rows == 1,
        Err(sea_orm::DbErr::RecordNotInserted) => false,
        Err(err) => return Err(err.into()),
    };
    let stored = if created {
        model
    } else {
        timeline_event::Entity::find()
            .filter(timeline_event::Column::IncidentId.eq(incident.id))
            .filter(timeline_event::Column::Source.eq(model.source.clone()))
            .filter(timeline_event::Column::ExternalId.eq(model.external_id.clone()))
            .one(&txn)
            .await?
            .ok_or_else(|| ServiceError::Internal(anyhow::anyhow!("duplicate event vanished")))?
    };
    txn.commit().await?;
    Ok((stored, created))
}

/// Store a batch in one transaction; events already stored are skipped.
pub async fn add_batch(
    ctx: &Context,
    reference: IncidentRef,
    events: Vec<NewTimelineEvent>,
) -> Result<IngestSummary, ServiceError> {
    let now = ctx.now();
    let received = events.len() as u64;
    let txn = ctx.begin_write().await?;
    let incident = find_incident(&txn, reference).await?;
    let created = insert_events(&txn, incident.id, now, events).await?;
    txn.commit().await?;
    tracing::debug!(incident.ref = %IncidentRef::display(incident.number), received, created, "Timeline batch stored");
    Ok(IngestSummary { received, created })
}

/// Insert events inside the caller's transaction; returns how many were new.
pub async fn insert_events<C: sea_orm::ConnectionTrait>(
    txn: &C,
    incident_id: Uuid,
    now: DateTime<Utc>,
    events: Vec<NewTimelineEvent>,
) -> Result<u64, ServiceError> {
    let mut created = 0;
    let mut events = events.into_iter().peekable();
    while events.peek().is_some() {
        let chunk: Vec<timeline_event::ActiveModel> = events
            .by_ref()
            .take(ROWS_PER_STATEMENT)
            .map(|e| {
                to_model(incident_id, now, e)
                    .into_active_model()
                    .reset_all()
            })
            .collect();
        let result = timeline_event::Entity::insert_many(chunk)
            .on_conflict(on_conflict())
            .exec_without_returning(txn)
            .await;
        created += match result {
            Ok(rows) => rows,
            Err(sea_orm::DbErr::RecordNotInserted) => 0,
            Err(err) => return Err(err.into()),
        };
    }
    Ok(created)
}

#[derive(Debug, Clone, Default)]
pub struct TimelineFilter {
    pub visibility: Option<Visibility>,
    pub kind: Option<TimelineKind>,
}

/// The incident's timeline in time order.
pub async fn list(
    ctx: &Context,
    reference: IncidentRef,
    filter: TimelineFilter,
    page: PageRequest<(DateTime<Utc>, Uuid)>,
) -> Result<Page<timeline_event::Model>, ServiceError> {
    let incident = find_incident(&ctx.db, reference).await?;
    let mut query =
        timeline_event::Entity::find().filter(timeline_event::Column::IncidentId.eq(incident.id));
    if let Some(visibility) = filter.visibility {
        query = query.filter(timeline_event::Column::Visibility.eq(visibility.as_str()));
    }
    if let Some(kind) = filter.kind {
        query = query.filter(timeline_event::Column::Kind.eq(kind.as_str()));
    }
    if let Some((at, id)) = page.after {
        query = query.filter(
            sea_orm::Condition::any()
                .add(timeline_event::Column::OccurredAt.gt(at))
                .add(
                    sea_orm::Condition::all()
                        .add(timeline_event::Column::OccurredAt.eq(at))
                        .add(timeline_event::Column::Id.gt(id)),
                ),
        );
    }
    let rows = query
        .order_by_asc(timeline_event::Column::OccurredAt)
        .order_by_asc(timeline_event::Column::Id)
        .limit(page.limit + 1)
        .all(&ctx.db)
        .await?;
    Ok(Page::from_rows(rows, page.limit, |e| (e.occurred_at, e.id)))
}
