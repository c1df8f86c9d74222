//! Timeline events: single or batched, idempotent on
//! `(incident, source, external_id)`.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbBackend, DbErr, EntityTrait, IntoActiveModel,
    QueryFilter, QueryResult, Statement,
    sea_query::{Expr, InsertStatement, OnConflict, Query, SelectStatement, UnionType},
};
use uuid::Uuid;

use super::{
    Context, KindCounts, ServiceError, find_incident, new_id,
    pagination::{Page, PageRequest},
    writer::Combine,
};
use crate::{
    domain::{EventSource, IncidentRef, TimelineKind, Visibility},
    entities::{incident, timeline_event},
};

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
        kind: event.kind,
        body: event.body,
        author: event.author,
        source: event.source,
        external_id: event.external_id,
        visibility: event.visibility,
        created_at: now,
        updated_at: now,
    }
}

/// The row of an event to store: with its own id, or a new one.
fn model_of(incident_id: Uuid, now: DateTime<Utc>, e: EventWrite) -> timeline_event::Model {
    let mut m = to_model(incident_id, now, e.event);
    if let Some(id) = e.id {
        m.id = id;
    }
    m
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
///
/// The common case, a new event, is one statement (`INSERT … SELECT` from
/// the incident, so the look-up and the insert are one round trip and no
/// transaction of its own), shared with the new events of concurrent
/// requests on SQLite (see [`SingleEvents`]). When it inserts nothing, the
/// incident is missing or the event is a duplicate: that is told apart in a
/// write transaction, which sees the writes not yet committed and answers
/// once they are durable.
pub async fn add_one(
    ctx: &Context,
    reference: IncidentRef,
    event: NewTimelineEvent,
) -> Result<(timeline_event::Model, bool), ServiceError> {
    let now = ctx.now();
    let mut model = to_model(Uuid::nil(), now, event);
    let written = ctx
        .writer
        .write_combined(
            &ctx.single_events,
            &ctx.db,
            SingleEvent {
                event: model.clone(),
                reference,
            },
        )
        .await?;
    if let Some(row) = written {
        model.incident_id = row.try_get("", "incident_id")?;
        return Ok((model, true));
    }
    let txn = ctx.begin_write().await?;
    let incident = find_incident(&txn, reference).await?;
    // Usually a duplicate; an incident created since the statement above
    // takes the event now.
    model.incident_id = incident.id;
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
            .filter(timeline_event::Column::Source.eq(model.source))
            .filter(timeline_event::Column::ExternalId.eq(model.external_id.clone()))
            .one(&txn)
            .await?
            .ok_or_else(|| ServiceError::Internal(anyhow::anyhow!("duplicate event vanished")))?
    };
    txn.commit().await?;
    Ok((stored, created))
}

/// A new single event for the incident `reference` (its `incident_id` is
/// taken from the incident by the statement).
pub struct SingleEvent {
    event: timeline_event::Model,
    reference: IncidentRef,
}

/// Single events of concurrent requests, written by one statement:
/// `INSERT INTO timeline_events … SELECT …, incidents.id … FROM incidents
/// WHERE <reference> UNION ALL SELECT … ON CONFLICT DO NOTHING RETURNING
/// id, incident_id`. An event whose incident is missing or that is already
/// stored returns no row.
pub struct SingleEvents;

impl Combine for SingleEvents {
    type Item = SingleEvent;

    fn statement(&self, backend: DbBackend, items: &[SingleEvent]) -> Result<Statement, DbErr> {
        Ok(backend.build(&insert_for_incidents(items)?))
    }

    fn stored_item(&self, items: &[SingleEvent], row: &QueryResult) -> Result<usize, DbErr> {
        let id: Uuid = row.try_get("", "id")?;
        items
            .iter()
            .position(|item| item.event.id == id)
            .ok_or_else(|| DbErr::Custom(format!("timeline event {id} stored for no request")))
    }
}

/// The row of one event, selected from its incident.
fn select_from_incident(item: &SingleEvent) -> SelectStatement {
    let model = &item.event;
    let matches = match item.reference {
        IncidentRef::Id(id) => incident::Column::Id.eq(id),
        IncidentRef::Number(n) => incident::Column::Number.eq(n),
    };
    Query::select()
        .expr(Expr::val(model.id))
        .column((incident::Entity, incident::Column::Id))
        .exprs([
            Expr::val(model.occurred_at),
            Expr::val(model.kind),
            Expr::val(model.body.clone()),
            Expr::val(model.author.clone()),
            Expr::val(model.source),
            Expr::val(model.external_id.clone()),
            Expr::val(model.visibility),
            Expr::val(model.created_at),
            Expr::val(model.updated_at),
        ])
        .from(incident::Entity)
        .and_where(matches)
        .to_owned()
}

/// See [`SingleEvents`].
fn insert_for_incidents(items: &[SingleEvent]) -> Result<InsertStatement, DbErr> {
    use timeline_event::Column as C;
    let (first, rest) = items
        .split_first()
        .ok_or_else(|| DbErr::Custom("no event to insert".into()))?;
    let mut select = select_from_incident(first);
    for item in rest {
        select.union(UnionType::All, select_from_incident(item));
    }
    let mut insert = Query::insert();
    insert
        .into_table(timeline_event::Entity)
        .columns([
            C::Id,
            C::IncidentId,
            C::OccurredAt,
            C::Kind,
            C::Body,
            C::Author,
            C::Source,
            C::ExternalId,
            C::Visibility,
            C::CreatedAt,
            C::UpdatedAt,
        ])
        .select_from(select)
        .map_err(|e| DbErr::Custom(e.to_string()))?
        .on_conflict(on_conflict())
        .returning(Query::returning().columns([C::Id, C::IncidentId]));
    Ok(insert)
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

/// Insert events inside the caller's transaction; returns how many were new
/// (events whose `(source, external_id)` is stored are skipped).
pub async fn insert_events<C: ConnectionTrait>(
    txn: &C,
    incident_id: Uuid,
    now: DateTime<Utc>,
    events: Vec<NewTimelineEvent>,
) -> Result<u64, ServiceError> {
    let events = events
        .into_iter()
        .map(|event| EventWrite { id: None, event })
        .collect();
    let mut writer = EventWriter::default();
    let counts = writer
        .write(txn, incident_id, events, Stored::Skip, now)
        .await?;
    Ok(counts.created)
}

/// An event to store, with the id it was given elsewhere (a bundle's), or
/// none (a new one is made).
#[derive(Debug, Clone)]
pub struct EventWrite {
    pub id: Option<Uuid>,
    pub event: NewTimelineEvent,
}

/// What a batch does with events that may be stored already.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stored {
    /// Skip an event whose `(source, external_id)` is stored (the API's
    /// batches).
    Skip,
    /// Update an event stored under its id, or else its `(source,
    /// external_id)`, to the values given; an id stored under another
    /// incident is refused (an import into a stored incident).
    Update,
    /// Nothing: the incident was created in this transaction (an import),
    /// so nothing is looked up, and an event given twice across batches is
    /// refused by the unique indexes.
    Nothing,
}

mod rows;

use rows::insert_rows;

/// Rows per `INSERT` of a new incident's events on PostgreSQL: fewer,
/// larger statements, fewer round trips. (Chosen when sqlx 0.9.0 left
/// Nagle's algorithm on, transact-rs/sqlx#4335, and each statement could
/// wait 40 ms for a delayed ACK; `vendor/sqlx-core` now sets `TCP_NODELAY`.)
/// Such rows are held by the [`EventWriter`] until there are this many, or
/// it is flushed.
const PG_INSERT_ROWS: usize = 10 * crate::ingest::CHUNK;

/// The writer of timeline events in batches, inside the caller's
/// transaction: the API's batches and imports both go through it. An
/// event given twice in one batch is stored once: the later one wins, but
/// in a [`Stored::Skip`] batch the first one stays.
#[derive(Debug, Default)]
pub struct EventWriter {
    /// PostgreSQL: rows of [`Stored::Nothing`] batches not inserted yet.
    held: Vec<timeline_event::Model>,
}

impl EventWriter {
    /// Whether rows wait for [`EventWriter::flush`]: an error the unique
    /// indexes raise may then come from an earlier batch.
    pub fn holding(&self) -> bool {
        !self.held.is_empty()
    }

    /// Store a batch of events of one incident; returns what it did to each.
    pub async fn write<C: ConnectionTrait>(
        &mut self,
        db: &C,
        incident_id: Uuid,
        events: Vec<EventWrite>,
        stored: Stored,
        now: DateTime<Utc>,
    ) -> Result<KindCounts, ServiceError> {
        if stored == Stored::Skip {
            let received = events.len() as u64;
            let rows = events
                .into_iter()
                .map(|e| model_of(incident_id, now, e))
                .collect();
            let created = insert_rows(db, rows, true).await?;
            return Ok(KindCounts {
                created,
                updated: 0,
                unchanged: received - created,
            });
        }
        let mut found = if stored == Stored::Update {
            find_stored(db, incident_id, &events).await?
        } else {
            HashMap::new()
        };
        let mut counts = KindCounts::default();
        let mut inserts: Vec<timeline_event::Model> = Vec::new();
        let mut pending: HashMap<EventKey, usize> = HashMap::new();
        for e in events {
            let key = match (e.id, &e.event.external_id) {
                (Some(id), _) => EventKey::Id(id),
                (None, Some(x)) => EventKey::External(e.event.source, x.clone()),
                (None, None) => EventKey::Id(new_id()),
            };
            if let Some(&at) = pending.get(&key) {
                // The same event twice in one batch: the later one wins.
                fill(&mut inserts[at], e.event);
                continue;
            }
            match found.get_mut(&key) {
                Some(old) => {
                    let mut m = old.clone();
                    fill(&mut m, e.event);
                    if m == *old {
                        counts.unchanged += 1;
                    } else {
                        m.updated_at = now;
                        m.clone().into_active_model().reset_all().update(db).await?;
                        *old = m;
                        counts.updated += 1;
                    }
                }
                None => {
                    pending.insert(key, inserts.len());
                    inserts.push(model_of(incident_id, now, e));
                    counts.created += 1;
                }
            }
        }
        if stored == Stored::Nothing && db.get_database_backend() == DbBackend::Postgres {
            self.held.extend(inserts);
            if self.held.len() >= PG_INSERT_ROWS {
                self.flush(db).await?;
            }
        } else {
            insert_rows(db, inserts, false)
                .await
                .map_err(unique_conflict)?;
        }
        Ok(counts)
    }

    /// Insert the rows held back.
    pub async fn flush<C: ConnectionTrait>(&mut self, db: &C) -> Result<(), ServiceError> {
        let rows = std::mem::take(&mut self.held);
        insert_rows(db, rows, false)
            .await
            .map_err(unique_conflict)?;
        Ok(())
    }
}

/// How a timeline event is recognised: by id (bundles) or by
/// `(source, external_id)` (foreign formats).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum EventKey {
    Id(Uuid),
    External(EventSource, String),
}

/// The stored events a batch names: all by id when every event has one,
/// else by `(source, external_id)`. An id stored under another incident is
/// refused.
async fn find_stored<C: ConnectionTrait>(
    db: &C,
    incident_id: Uuid,
    events: &[EventWrite],
) -> Result<HashMap<EventKey, timeline_event::Model>, ServiceError> {
    let mut found = HashMap::new();
    if events.iter().all(|e| e.id.is_some()) {
        let ids: Vec<Uuid> = events.iter().filter_map(|e| e.id).collect();
        for m in timeline_event::Entity::find()
            .filter(timeline_event::Column::Id.is_in(ids))
            .all(db)
            .await?
        {
            if m.incident_id != incident_id {
                return Err(ServiceError::Conflict {
                    detail: format!("timeline event {} belongs to another incident", m.id),
                    field: None,
                    details: None,
                });
            }
            found.insert(EventKey::Id(m.id), m);
        }
        return Ok(found);
    }
    let mut sources: Vec<EventSource> = events.iter().map(|e| e.event.source).collect();
    sources.sort_unstable_by_key(|s| s.as_str());
    sources.dedup();
    for source in sources {
        let external: Vec<String> = events
            .iter()
            .filter(|e| e.event.source == source)
            .filter_map(|e| e.event.external_id.clone())
            .collect();
        for m in timeline_event::Entity::find()
            .filter(timeline_event::Column::IncidentId.eq(incident_id))
            .filter(timeline_event::Column::Source.eq(source))
            .filter(timeline_event::Column::ExternalId.is_in(external))
            .all(db)
            .await?
        {
            let key = EventKey::External(m.source, m.external_id.clone().unwrap_or_default());
            found.insert(key, m);
        }
    }
    Ok(found)
}

/// Give a stored event the values of `e` (its id, incident and creation
/// time stay).
fn fill(m: &mut timeline_event::Model, e: NewTimelineEvent) {
    m.occurred_at = e.occurred_at;
    m.kind = e.kind;
    m.body = e.body;
    m.author = e.author;
    m.source = e.source;
    m.external_id = e.external_id;
    m.visibility = e.visibility;
}

/// A unique index refused a row: an event whose id, or `(source,
/// external_id)`, is already stored or was given twice.
fn unique_conflict(err: sea_orm::DbErr) -> ServiceError {
    if matches!(
        err.sql_err(),
        Some(sea_orm::SqlErr::UniqueConstraintViolation(_))
    ) {
        return ServiceError::Conflict {
            detail: "an event has an id, or a source and external_id, that is already stored \
                     or was given twice"
                .into(),
            field: None,
            details: None,
        };
    }
    err.into()
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
    let mut query = timeline_event::Entity::find();
    if let Some(visibility) = filter.visibility {
        query = query.filter(timeline_event::Column::Visibility.eq(visibility));
    }
    if let Some(kind) = filter.kind {
        query = query.filter(timeline_event::Column::Kind.eq(kind));
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
    let order = [
        (timeline_event::Column::OccurredAt, sea_orm::Order::Asc),
        (timeline_event::Column::Id, sea_orm::Order::Asc),
    ];
    let rows = super::reads::of_incident(
        &ctx.db,
        reference,
        query,
        timeline_event::Column::IncidentId,
        &order,
        Some(page.limit + 1),
    )
    .await?;
    Ok(Page::from_rows(rows, page.limit, |e| (e.occurred_at, e.id)))
}
