//! The work: transactions, rules and queries. Everything here returns
//! [`ServiceError`]; nothing here knows about HTTP.

pub mod bundle_export;
pub mod channels;
pub mod checkpointer;
pub mod cleanup;
pub mod digests;
mod error;
pub mod exports;
pub mod imports;
pub mod incidents;
pub mod outbox;
pub mod pagination;
pub mod postmortems;
pub mod read_cache;
pub mod reads;
pub mod redactions;
pub mod remediations;
pub mod render_queue;
pub mod roles;
pub mod search;
pub mod sitreps;
pub mod stats;
pub mod status_updates;
pub mod timeline;
pub mod tokens;
pub mod tracker_sync;
pub mod upkeep;
pub mod writer;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, DbBackend, EntityTrait,
    IntoActiveModel, ModelTrait, QueryFilter,
};
use serde::Serialize;

pub use error::{ConflictDetails, ServiceError};
use read_cache::ReadCache;
use render_queue::RenderQueue;
use uuid::Uuid;
use writer::{Combined, WriteTransaction, Writer};

use crate::{
    clock::SharedClock,
    config::Settings,
    domain::{EventSource, IncidentRef, TimelineKind, Visibility},
    entities::{incident, timeline_event},
    metrics::Metrics,
    trackers::Trackers,
};

/// What every service call needs: the database, the clock, the settings,
/// the cache of hot reads, the turn at the SQLite writer, the render queue
/// and the process's metrics ([`Services`]). A clone shares them: it is
/// one reference count, since every request takes one.
#[derive(Clone)]
pub struct Context(Arc<Services>);

impl std::ops::Deref for Context {
    type Target = Services;

    fn deref(&self) -> &Services {
        &self.0
    }
}

/// The parts of a [`Context`].
#[derive(Clone)]
pub struct Services {
    pub db: DatabaseConnection,
    pub clock: SharedClock,
    pub settings: Arc<Settings>,
    pub cache: Arc<ReadCache>,
    pub writer: Arc<Writer>,
    /// New single timeline events waiting to share a statement.
    pub single_events: Arc<Combined<timeline::SingleEvents>>,
    pub renders: Arc<RenderQueue>,
    pub metrics: Metrics,
    /// The issue trackers remediation items are synced with.
    pub trackers: Arc<Trackers>,
    /// SQLite: the thread that checkpoints the WAL off the commit path
    /// (see [`checkpointer`]); it stops with the last clone of the context.
    pub checkpointer: Option<Arc<checkpointer::Checkpointer>>,
}

impl Context {
    /// A context over `db`, with its cache of hot reads (see [`ReadCache`]).
    pub fn new(db: DatabaseConnection, clock: SharedClock, settings: Arc<Settings>) -> Self {
        let sqlite_file = crate::db::sqlite_path(&settings.database_url())
            .filter(|_| db.get_database_backend() == DbBackend::Sqlite);
        let checkpointer = sqlite_file.as_ref().and_then(|path| {
            checkpointer::Checkpointer::start(std::path::Path::new(path))
                .inspect_err(|err| {
                    tracing::warn!(
                        error = %err,
                        "WAL checkpoints left to SQLite: cannot open the file"
                    );
                })
                .ok()
                .map(Arc::new)
        });
        let cache = match crate::db::sqlite_path(&settings.database_url()) {
            Some(path) if db.get_database_backend() == DbBackend::Sqlite => {
                ReadCache::for_sqlite_file(std::path::Path::new(&path)).unwrap_or_else(|err| {
                    tracing::warn!(error = %err, "Read cache off: cannot open the SQLite file");
                    ReadCache::disabled()
                })
            }
            _ if db.get_database_backend() == DbBackend::Postgres => ReadCache::for_postgres(),
            _ => ReadCache::disabled(),
        }
        .with_token_recheck(std::time::Duration::from_millis(settings.token_recheck_ms));
        let metrics = Metrics::new();
        let mut writer = Writer::new(db.get_database_backend(), metrics.clone());
        if db.get_database_backend() == DbBackend::Sqlite {
            writer = writer.with_idle_step(Arc::new(search::merge::MergeIndex));
        }
        let renders = RenderQueue::new(&settings.limits, metrics.clone());
        // The settings were checked at start-up; a client that cannot be
        // built (no TLS roots) leaves the trackers off, said once in the log.
        let trackers =
            Trackers::from_settings(&settings.trackers, clock.clone()).unwrap_or_else(|err| {
                tracing::error!(
                    error = format!("{err:#}"),
                    "Issue trackers off: cannot build their HTTP client"
                );
                Trackers::default()
            });
        Self(Arc::new(Services {
            db,
            clock,
            settings,
            cache: Arc::new(cache),
            writer: Arc::new(writer),
            single_events: Arc::new(Combined::new(timeline::SingleEvents)),
            renders: Arc::new(renders),
            metrics,
            trackers: Arc::new(trackers),
            checkpointer,
        }))
    }

    /// The same services under other settings (a worker with a narrower
    /// configuration, in tests).
    pub fn with_settings(&self, settings: Arc<Settings>) -> Self {
        let mut services = Services::clone(self);
        services.settings = settings;
        Self(Arc::new(services))
    }

    /// Begin a transaction that will write: on SQLite, in turn with the
    /// other writers of this process and committed together with them
    /// (see [`writer`]); on PostgreSQL, a plain transaction.
    pub async fn begin_write(&self) -> Result<WriteTransaction, sea_orm::DbErr> {
        self.writer.begin(&self.db).await
    }

    /// Run one write statement on its own (see [`Writer::write_statement`]):
    /// no transaction of its own on either database, durable on return.
    pub async fn write_statement(
        &self,
        statement: sea_orm::Statement,
    ) -> Result<Vec<sea_orm::QueryResult>, sea_orm::DbErr> {
        self.writer.write_statement(&self.db, statement).await
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }
}

/// Look an incident up by UUID or `INC-n`.
pub async fn find_incident<C: ConnectionTrait>(
    db: &C,
    reference: IncidentRef,
) -> Result<incident::Model, ServiceError> {
    lookup_incident(db, reference, false).await
}

/// Look an incident up inside a write transaction and lock its row until
/// commit (`FOR UPDATE` on PostgreSQL; on SQLite the writer's turn already
/// excludes every other write), so a read-modify-write of the whole row
/// cannot overwrite a concurrent change such as a new sitrep's version.
pub async fn find_incident_for_update<C: ConnectionTrait>(
    db: &C,
    reference: IncidentRef,
) -> Result<incident::Model, ServiceError> {
    lookup_incident(db, reference, true).await
}

async fn lookup_incident<C: ConnectionTrait>(
    db: &C,
    reference: IncidentRef,
    lock: bool,
) -> Result<incident::Model, ServiceError> {
    use sea_orm::QuerySelect;
    let mut query = match reference {
        IncidentRef::Id(id) => incident::Entity::find_by_id(id),
        IncidentRef::Number(n) => incident::Entity::find().filter(incident::Column::Number.eq(n)),
    };
    if lock {
        query = query.lock_exclusive();
    }
    query.one(db).await?.ok_or_else(|| {
        ServiceError::NotFound(match reference {
            IncidentRef::Id(id) => format!("incident {id}"),
            IncidentRef::Number(n) => format!("incident {}", IncidentRef::display(n)),
        })
    })
}

/// A new row id: UUIDv7, so ids sort by creation and index pages stay warm.
pub fn new_id() -> Uuid {
    Uuid::now_v7()
}

/// A timeline event that Debrief writes itself (status changes, hand-offs,
/// new sitrep versions).
pub fn system_event(
    incident_id: Uuid,
    at: DateTime<Utc>,
    kind: TimelineKind,
    body: String,
) -> timeline_event::Model {
    timeline_event::Model {
        id: new_id(),
        incident_id,
        occurred_at: at,
        kind,
        body,
        author: Some("Debrief".into()),
        source: EventSource::System,
        external_id: None,
        visibility: Visibility::Internal,
        created_at: at,
        updated_at: at,
    }
}

/// Insert a fully-built model as one row.
pub async fn insert_model<C, A>(db: &C, active: A) -> Result<(), ServiceError>
where
    C: ConnectionTrait,
    A: ActiveModelTrait + Send,
{
    <A::Entity as EntityTrait>::insert(active.reset_all())
        .exec_without_returning(db)
        .await?;
    Ok(())
}

/// What a write did to the one record it was given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Created,
    Updated,
    Unchanged,
}

/// A record as a write left it, and what the write did.
#[derive(Debug, Clone)]
pub struct Written<M> {
    pub model: M,
    pub outcome: Outcome,
}

impl<M> Written<M> {
    pub fn changed(&self) -> bool {
        self.outcome != Outcome::Unchanged
    }
}

/// Created, updated and unchanged records of one kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct KindCounts {
    pub created: u64,
    pub updated: u64,
    pub unchanged: u64,
}

impl KindCounts {
    pub fn count(&mut self, outcome: Outcome) {
        match outcome {
            Outcome::Created => self.created += 1,
            Outcome::Updated => self.updated += 1,
            Outcome::Unchanged => self.unchanged += 1,
        }
    }

    pub fn add(&mut self, other: KindCounts) {
        self.created += other.created;
        self.updated += other.updated;
        self.unchanged += other.unchanged;
    }
}

/// Store `next`: insert it when nothing is stored (`current` is `None`),
/// leave the stored row when it already holds these values, else update it
/// after `touch` has marked the change (version, `updated_at`). The
/// record's own rules are the caller's: this only writes the row.
pub(crate) async fn store<C, M, A>(
    db: &C,
    current: Option<M>,
    mut next: M,
    touch: impl FnOnce(&mut M),
) -> Result<Written<M>, ServiceError>
where
    C: ConnectionTrait,
    M: ModelTrait + IntoActiveModel<A> + Clone + PartialEq,
    A: ActiveModelTrait<Entity = M::Entity> + sea_orm::ActiveModelBehavior + Send,
    <M::Entity as EntityTrait>::Model: IntoActiveModel<A>,
{
    let outcome = match current {
        None => {
            insert_model(db, next.clone().into_active_model()).await?;
            Outcome::Created
        }
        Some(current) if current == next => Outcome::Unchanged,
        Some(_) => {
            touch(&mut next);
            next.clone()
                .into_active_model()
                .reset_all()
                .update(db)
                .await?;
            Outcome::Updated
        }
    };
    Ok(Written {
        model: next,
        outcome,
    })
}

/// Update a versioned row to `next` only while it is still at version
/// `current` (`next` carries the version after it): a concurrent change in
/// between is a 412 naming what `If-Match` said.
pub(crate) async fn update_versioned<C, A>(
    db: &C,
    next: A,
    (id_column, id): (<A::Entity as EntityTrait>::Column, Uuid),
    (version_column, current): (<A::Entity as EntityTrait>::Column, i32),
    if_match: Option<&str>,
) -> Result<(), ServiceError>
where
    C: ConnectionTrait,
    A: ActiveModelTrait + Send,
{
    let result = <A::Entity as EntityTrait>::update_many()
        .set(next)
        .filter(id_column.eq(id))
        .filter(version_column.eq(current))
        .exec(db)
        .await?;
    if result.rows_affected != 1 {
        return Err(ServiceError::PreconditionFailed {
            current: current + 1,
            given: if_match.unwrap_or("").to_string(),
        });
    }
    Ok(())
}

/// A record given with its own id (an import) may not move to another
/// incident: one stored under another is refused.
pub(crate) fn same_incident(stored: Option<Uuid>, incident_id: Uuid) -> Result<(), ServiceError> {
    match stored {
        Some(other) if other != incident_id => Err(ServiceError::Conflict {
            detail: format!("this id is already stored under another incident ({other})"),
            field: Some("id".into()),
            details: None,
        }),
        _ => Ok(()),
    }
}

/// Parse an `If-Match` header value (`"3"`, `W/"3"`, `3`, a list of them, or
/// `*`) against the current version: 400 when it holds no version at all,
/// 412 when none is the current one.
pub fn check_if_match(if_match: Option<&str>, current: i32) -> Result<(), ServiceError> {
    let Some(raw) = if_match else { return Ok(()) };
    let raw = raw.trim();
    if raw == "*" {
        return Ok(());
    }
    let versions: Vec<i32> = raw
        .split(',')
        .filter_map(|tag| {
            let tag = tag.trim();
            let tag = tag.strip_prefix("W/").unwrap_or(tag);
            tag.trim_matches('"').parse().ok()
        })
        .collect();
    if versions.is_empty() {
        return Err(ServiceError::bad_request(
            "If-Match",
            format!("`If-Match: {raw}` names no version: send the ETag you read, like \"3\""),
        ));
    }
    if versions.contains(&current) {
        Ok(())
    } else {
        Err(ServiceError::PreconditionFailed {
            current,
            given: raw.to_string(),
        })
    }
}
