//! Imports and the bundle export.
//!
//! An import reads a file on a blocking thread (see [`crate::ingest`]) and
//! applies its records as they arrive, inside ONE transaction: all of it
//! lands, or nothing does. Every record is matched with what is stored (by
//! id for a bundle, by `(source, external_id)` for foreign formats) and
//! counted as created, updated or unchanged, so importing the same file twice
//! changes nothing the second time. A dry run does the same work and rolls it
//! back.
//!
//! Uploads are spooled to a file first and read twice ([`import_file`]):
//! once to check, with no transaction open, then once to write, so the
//! write transaction lasts as long as the database work and no longer.

use std::{
    collections::HashMap,
    io::{Read, Seek},
    path::Path,
};

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseTransaction, DbBackend, EntityTrait,
    IntoActiveModel, ModelTrait, QueryFilter, QueryOrder, QuerySelect, Statement, TransactionTrait,
    sea_query::OnConflict,
};
use serde::Serialize;
use tokio::sync::mpsc;
use uuid::Uuid;

use crate::ingest::{
    PostmortemRecord,
    bundle::{BundlePostmortem, BundleSection},
};

use super::{
    Context, find_incident, insert_model, json_list, new_id, parse_json_list, parse_stored,
    postmortems, remediations,
};
use crate::{
    config::PostmortemDue,
    db,
    domain::{IncidentRef, Milestones, PostmortemStatus},
    entities::{
        cleanup_item, incident, incident_external_id, postmortem, postmortem_section,
        remediation_incident, remediation_item, role_assignment, sitrep, status_update,
        timeline_event,
    },
    error::ServiceError,
    ingest::{
        self, CleanupRecord, EventRecord, ImportFormat, IncidentKey, IncidentRecord, ParseOptions,
        Record, RemediationRecord, RoleRecord, Shortening, SitrepRecord, StatusUpdateRecord,
        bundle::{
            BUNDLE_FORMAT, BUNDLE_VERSION, Bundle, BundleCleanupItem, BundleEvent, BundleIncident,
            BundleRemediationItem, BundleRole, BundleSitrep, BundleStatusUpdate,
        },
    },
};

/// Records in flight between the reader and the database: with timeline
/// chunks of [`ingest::CHUNK`] events this bounds what an import holds.
const CHANNEL_DEPTH: usize = 4;

/// What to import.
#[derive(Debug, Clone)]
pub struct ImportRequest {
    pub format: ImportFormat,
    /// The incident PagerDuty, Opsgenie and Slack records go to.
    pub incident: Option<IncidentRef>,
    /// Do all the work, then roll it back.
    pub dry_run: bool,
    /// The channel to read from a Slack workspace export ZIP.
    pub channel: Option<String>,
    /// Mark the post-mortems of incidents resolved before this day
    /// `not_required` (imported history); `None`: `imports.history_before`.
    pub history_before: Option<chrono::NaiveDate>,
}

/// Shortenings listed in a report; the rest are counted in
/// [`ImportReport::shortened_total`].
pub const SHORTENINGS_LISTED: usize = 1000;

/// Created, updated and unchanged records of one kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct KindCounts {
    pub created: u64,
    pub updated: u64,
    pub unchanged: u64,
}

/// Counts per kind of record.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ImportCounts {
    pub incidents: KindCounts,
    pub roles: KindCounts,
    pub timeline_events: KindCounts,
    pub sitreps: KindCounts,
    pub status_updates: KindCounts,
    pub cleanup_items: KindCounts,
    pub remediation_items: KindCounts,
    pub postmortems: KindCounts,
    pub postmortem_sections: KindCounts,
}

impl ImportCounts {
    /// Each kind with its name, in a fixed order (for summaries).
    pub fn by_kind(&self) -> [(&'static str, KindCounts); 9] {
        [
            ("incidents", self.incidents),
            ("roles", self.roles),
            ("timeline_events", self.timeline_events),
            ("sitreps", self.sitreps),
            ("status_updates", self.status_updates),
            ("cleanup_items", self.cleanup_items),
            ("remediation_items", self.remediation_items),
            ("postmortems", self.postmortems),
            ("postmortem_sections", self.postmortem_sections),
        ]
    }
}

/// What an import did (or, in a dry run, would have done).
#[derive(Debug, Clone)]
pub struct ImportReport {
    pub format: ImportFormat,
    pub dry_run: bool,
    /// The incidents written to, as `INC-n`, in file order.
    pub incidents: Vec<String>,
    pub counts: ImportCounts,
    /// Entries read and deliberately left out (Slack joins and bots,
    /// PagerDuty entry types with no timeline meaning, hidden Opsgenie
    /// entries).
    pub skipped: u64,
    /// Values longer than Debrief stores, shortened (each kept whole in an
    /// internal `note` event); the first [`SHORTENINGS_LISTED`].
    pub shortened: Vec<Shortening>,
    /// How many values were shortened in all.
    pub shortened_total: u64,
}

/// Check the request before any of the file is read.
pub fn check_request(request: &ImportRequest) -> Result<(), ServiceError> {
    if let Some(channel) = &request.channel {
        if request.format != ImportFormat::Slack {
            return Err(ServiceError::validation(
                "channel",
                "`channel` chooses a channel of a Slack workspace export; it is only for slack",
            ));
        }
        // Slack channel names: at most 80 characters, no spaces or periods.
        let valid = !channel.is_empty()
            && channel.chars().count() <= 80
            && !channel
                .chars()
                .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '/' | '\\' | '.'));
        if !valid {
            return Err(ServiceError::validation(
                "channel",
                format!(
                    "`channel` is {channel:?}; a Slack channel name has 1 to 80 characters \
                     and no spaces, periods or slashes"
                ),
            ));
        }
    }
    match (request.format.needs_target(), &request.incident) {
        (true, None) => Err(ServiceError::validation(
            "incident",
            format!(
                "a {} import adds to an existing incident: name it with `incident` (INC-n or its id)",
                request.format.as_str()
            ),
        )),
        (false, Some(_)) => Err(ServiceError::validation(
            "incident",
            format!(
                "a {} file names its own incidents; `incident` is only for pagerduty, opsgenie \
                 and slack",
                request.format.as_str()
            ),
        )),
        _ => Ok(()),
    }
}

/// What the parser needs besides the file.
fn parse_options(ctx: &Context, request: &ImportRequest) -> ParseOptions {
    ParseOptions {
        channel: request.channel.clone(),
        max_unpacked_bytes: ctx.settings.import_limit_bytes,
    }
}

/// Whether a file on disk is a ZIP archive (by its first bytes).
pub fn is_zip(path: &Path) -> Result<bool, ServiceError> {
    let mut magic = [0u8; 4];
    let mut file = open_spooled(path)?;
    let mut read = 0;
    while read < magic.len() {
        match file.read(&mut magic[read..]) {
            Ok(0) => break,
            Ok(n) => read += n,
            Err(e) => {
                return Err(ServiceError::Internal(anyhow::anyhow!(
                    "cannot read {}: {e}",
                    path.display()
                )));
            }
        }
    }
    Ok(&magic == ingest::ZIP_MAGIC)
}

/// Read a whole file on disk once to check it, with no transaction open:
/// a malformed file is refused before it costs any writer time.
pub async fn check_file(
    ctx: &Context,
    request: &ImportRequest,
    path: &Path,
) -> Result<(), ServiceError> {
    let file = open_spooled(path)?;
    let format = request.format;
    let options = parse_options(ctx, request);
    tokio::task::spawn_blocking(move || ingest::parse(format, &options, file, &mut |_| Ok(())))
        .await
        .map_err(|e| ServiceError::Internal(anyhow::anyhow!("import check failed: {e}")))?
}

/// Import a file that is whole on disk (an upload spooled under the data
/// directory): checked first with no transaction open, then written in one
/// transaction. The client's pace never reaches the write lock.
pub async fn import_file(
    ctx: &Context,
    request: ImportRequest,
    path: &Path,
) -> Result<ImportReport, ServiceError> {
    check_request(&request)?;
    check_file(ctx, &request, path).await?;
    import(ctx, request, open_spooled(path)?).await
}

fn open_spooled(path: &Path) -> Result<std::fs::File, ServiceError> {
    std::fs::File::open(path)
        .map_err(|e| ServiceError::Internal(anyhow::anyhow!("cannot open {}: {e}", path.display())))
}

/// Import a whole file from `reader`, in one transaction.
pub async fn import<R: Read + Seek + Send + 'static>(
    ctx: &Context,
    request: ImportRequest,
    reader: R,
) -> Result<ImportReport, ServiceError> {
    check_request(&request)?;
    let now = ctx.now();
    let txn = ctx.begin_write().await?;
    let mut importer = Importer::new(&txn, now, &ctx.settings.postmortem_due);
    importer.history_before = request
        .history_before
        .or(ctx.settings.imports.history_before);
    if let Some(target) = request.incident {
        let target = find_incident(&txn, target).await?;
        importer.enter(target);
    }
    let (tx, mut rx) = mpsc::channel::<Record>(CHANNEL_DEPTH);
    let format = request.format;
    let options = parse_options(ctx, &request);
    let reading = tokio::task::spawn_blocking(move || {
        ingest::parse(format, &options, reader, &mut |record| {
            tx.blocking_send(record).map_err(|_| ingest::Stopped)
        })
    });
    let mut applied = Ok(());
    while let Some(record) = rx.recv().await {
        if let Err(err) = importer.apply(record).await {
            applied = Err(err);
            break;
        }
    }
    // Closing the channel stops the reader if the database side failed.
    drop(rx);
    let read = reading
        .await
        .map_err(|e| ServiceError::Internal(anyhow::anyhow!("import reader failed: {e}")))?;
    let outcome = match (applied, read) {
        (Err(err), _) | (Ok(()), Err(err)) => Err(err),
        (Ok(()), Ok(())) => importer.finish().await,
    };
    let report = match outcome {
        Ok(()) => importer.report(format, request.dry_run),
        Err(err) => {
            txn.rollback().await?;
            return Err(err);
        }
    };
    if request.dry_run {
        txn.rollback().await?;
    } else {
        txn.commit().await?;
    }
    tracing::info!(
        import.format = format.as_str(),
        import.dry_run = request.dry_run,
        incidents = %report.incidents.join(","),
        events.created = report.counts.timeline_events.created,
        import.shortened = report.shortened_total,
        "Imported {} file",
        format.as_str()
    );
    Ok(report)
}

/// The import in progress: the transaction, the incident records now go to,
/// and the counts.
struct Importer<'t> {
    txn: &'t DatabaseTransaction,
    now: DateTime<Utc>,
    due_periods: &'t PostmortemDue,
    current: Option<incident::Model>,
    touched: Vec<incident::Model>,
    counts: ImportCounts,
    skipped: u64,
    shortened: Vec<Shortening>,
    shortened_total: u64,
    remediations_changed: bool,
    /// Post-mortems of incidents resolved before this day become
    /// `not_required` (see [`postmortems::mark_history_not_required`]).
    history_before: Option<chrono::NaiveDate>,
    /// Incidents this import created: nothing of theirs can be stored yet,
    /// so their events are inserted without looking them up first.
    created: Vec<Uuid>,
    /// PostgreSQL: new incidents' events held back to be inserted
    /// [`PG_INSERT_ROWS`] at a time, and the path of the first chunk.
    held: Vec<timeline_event::Model>,
    held_path: String,
}

/// Rows per `INSERT` of new incidents' events on PostgreSQL. sqlx 0.9.0
/// leaves Nagle's algorithm on (transact-rs/sqlx#4335), so a statement that
/// spans several TCP segments can wait up to 40 ms for a delayed ACK;
/// fewer, larger statements pay that wait less often (README, "PostgreSQL").
const PG_INSERT_ROWS: usize = 10 * ingest::CHUNK;

impl<'t> Importer<'t> {
    fn new(
        txn: &'t DatabaseTransaction,
        now: DateTime<Utc>,
        due_periods: &'t PostmortemDue,
    ) -> Self {
        Self {
            txn,
            now,
            due_periods,
            current: None,
            touched: Vec::new(),
            counts: ImportCounts::default(),
            skipped: 0,
            shortened: Vec::new(),
            shortened_total: 0,
            remediations_changed: false,
            history_before: None,
            created: Vec::new(),
            held: Vec::new(),
            held_path: String::new(),
        }
    }

    fn enter(&mut self, incident: incident::Model) {
        if !self.touched.iter().any(|i| i.id == incident.id) {
            self.touched.push(incident.clone());
        }
        self.current = Some(incident);
    }

    fn incident_id(&self, section: &str) -> Result<Uuid, ServiceError> {
        self.current.as_ref().map(|i| i.id).ok_or_else(|| {
            ServiceError::validation(section, format!("`{section}` comes before its incident"))
        })
    }

    fn report(&self, format: ImportFormat, dry_run: bool) -> ImportReport {
        ImportReport {
            format,
            dry_run,
            incidents: self
                .touched
                .iter()
                .map(|i| IncidentRef::display(i.number))
                .collect(),
            counts: self.counts,
            skipped: self.skipped,
            shortened: self.shortened.clone(),
            shortened_total: self.shortened_total,
        }
    }

    async fn apply(&mut self, record: Record) -> Result<(), ServiceError> {
        if !matches!(
            record,
            Record::Events { .. } | Record::Skipped(_) | Record::Shortened(_)
        ) {
            self.insert_held().await?;
        }
        match record {
            Record::Incident(incident) => self.incident(*incident).await,
            Record::Roles(roles) => {
                for (i, role) in roles.into_iter().enumerate() {
                    self.role(&format!("roles[{i}]"), role).await?;
                }
                Ok(())
            }
            Record::Sitreps(sitreps) => {
                for (i, s) in sitreps.into_iter().enumerate() {
                    self.sitrep(&format!("sitreps[{i}]"), s).await?;
                }
                Ok(())
            }
            Record::StatusUpdates(updates) => {
                for (i, u) in updates.into_iter().enumerate() {
                    self.status_update(&format!("status_updates[{i}]"), u)
                        .await?;
                }
                Ok(())
            }
            Record::CleanupItems(items) => {
                for (i, c) in items.into_iter().enumerate() {
                    self.cleanup_item(&format!("cleanup_items[{i}]"), c).await?;
                }
                Ok(())
            }
            Record::RemediationItems(items) => {
                for (i, r) in items.into_iter().enumerate() {
                    self.remediation_item(&format!("remediation_items[{i}]"), r)
                        .await?;
                }
                Ok(())
            }
            Record::Postmortem(pm) => self.postmortem(*pm).await,
            Record::Events { path, events } => self.events(&path, events).await,
            Record::FillMilestones {
                detected_at,
                acknowledged_at,
            } => self.fill_milestones(detected_at, acknowledged_at).await,
            Record::Skipped(n) => {
                self.skipped += n;
                Ok(())
            }
            Record::Shortened(list) => {
                self.shortened_total += list.len() as u64;
                let room = SHORTENINGS_LISTED.saturating_sub(self.shortened.len());
                self.shortened.extend(list.into_iter().take(room));
                Ok(())
            }
        }
    }

    async fn incident(&mut self, rec: IncidentRecord) -> Result<(), ServiceError> {
        let txn = self.txn;
        let existing = match &rec.key {
            IncidentKey::Id(id) => incident::Entity::find_by_id(*id).one(txn).await?,
            IncidentKey::External { source, id } => {
                let link = incident_external_id::Entity::find_by_id((
                    source.as_str().to_string(),
                    id.clone(),
                ))
                .one(txn)
                .await?;
                match link {
                    Some(link) => {
                        incident::Entity::find_by_id(link.incident_id)
                            .one(txn)
                            .await?
                    }
                    None => None,
                }
            }
        };
        let model = match existing {
            None => {
                let number = db::next_counter(txn, "incident").await?;
                let id = match &rec.key {
                    IncidentKey::Id(id) => *id,
                    IncidentKey::External { .. } => new_id(),
                };
                let m = incident::Model {
                    id,
                    number,
                    title: rec.title.clone(),
                    severity: rec.severity.as_str().into(),
                    status: rec.status.as_str().into(),
                    customer_impact: rec.customer_impact.clone(),
                    affected_components: json_list(&rec.affected_components),
                    chat_room_url: rec.chat_room_url.clone(),
                    labels: json_list(&rec.labels),
                    started_at: rec.milestones.started_at,
                    detected_at: rec.milestones.detected_at,
                    acknowledged_at: rec.milestones.acknowledged_at,
                    mitigated_at: rec.milestones.mitigated_at,
                    resolved_at: rec.milestones.resolved_at,
                    closed_at: rec.closed_at,
                    last_customer_update_at: None,
                    sitrep_count: 0,
                    version: 1,
                    created_at: rec.created_at.unwrap_or(self.now),
                    updated_at: self.now,
                };
                check_milestones(&rec.path, &m)?;
                insert_model(txn, m.clone().into_active_model()).await?;
                if let IncidentKey::External { source, id } = &rec.key {
                    let link = incident_external_id::Model {
                        source: source.as_str().into(),
                        external_id: id.clone(),
                        incident_id: m.id,
                        created_at: self.now,
                    };
                    insert_model(txn, link.into_active_model()).await?;
                }
                self.counts.incidents.created += 1;
                self.created.push(m.id);
                m
            }
            Some(old) => {
                let mut m = old.clone();
                m.title = rec.title.clone();
                m.severity = rec.severity.as_str().into();
                m.status = rec.status.as_str().into();
                m.affected_components = json_list(&rec.affected_components);
                let ms = rec.milestones;
                if rec.exact {
                    m.customer_impact = rec.customer_impact.clone();
                    m.chat_room_url = rec.chat_room_url.clone();
                    m.labels = json_list(&rec.labels);
                    m.started_at = ms.started_at;
                    m.detected_at = ms.detected_at;
                    m.acknowledged_at = ms.acknowledged_at;
                    m.mitigated_at = ms.mitigated_at;
                    m.resolved_at = ms.resolved_at;
                    m.closed_at = rec.closed_at;
                    m.created_at = rec.created_at.unwrap_or(m.created_at);
                } else {
                    let keep = |new: Option<DateTime<Utc>>, old: Option<DateTime<Utc>>| new.or(old);
                    m.started_at = keep(ms.started_at, m.started_at);
                    m.detected_at = keep(ms.detected_at, m.detected_at);
                    m.acknowledged_at = keep(ms.acknowledged_at, m.acknowledged_at);
                    m.mitigated_at = keep(ms.mitigated_at, m.mitigated_at);
                    m.resolved_at = keep(ms.resolved_at, m.resolved_at);
                }
                check_milestones(&rec.path, &m)?;
                self.save_incident(old, m).await?
            }
        };
        self.enter(model);
        Ok(())
    }

    /// Store a changed incident (version bumped), counting the outcome.
    async fn save_incident(
        &mut self,
        old: incident::Model,
        mut m: incident::Model,
    ) -> Result<incident::Model, ServiceError> {
        if m == old {
            self.counts.incidents.unchanged += 1;
            return Ok(m);
        }
        m.version += 1;
        m.updated_at = self.now;
        m.clone()
            .into_active_model()
            .reset_all()
            .update(self.txn)
            .await?;
        self.counts.incidents.updated += 1;
        Ok(m)
    }

    async fn fill_milestones(
        &mut self,
        detected_at: Option<(DateTime<Utc>, String)>,
        acknowledged_at: Option<(DateTime<Utc>, String)>,
    ) -> Result<(), ServiceError> {
        let old = self
            .current
            .clone()
            .ok_or_else(|| ServiceError::validation("incident", "no incident to add to"))?;
        let mut m = old.clone();
        let mut path = None;
        if let (None, Some((at, p))) = (m.detected_at, detected_at) {
            m.detected_at = Some(at);
            path = Some(p);
        }
        if let (None, Some((at, p))) = (m.acknowledged_at, acknowledged_at) {
            m.acknowledged_at = Some(at);
            path = Some(p);
        }
        let Some(path) = path else { return Ok(()) };
        milestones_of(&m).check().map_err(|err| match err {
            ServiceError::Validation { detail, .. } => ServiceError::validation(
                path,
                format!("this entry sets a milestone out of order: {detail}"),
            ),
            other => other,
        })?;
        // Filling milestones is part of the events' import, not an incident
        // record of the file: it is not counted separately.
        m.version += 1;
        m.updated_at = self.now;
        m.clone()
            .into_active_model()
            .reset_all()
            .update(self.txn)
            .await?;
        self.enter(m);
        Ok(())
    }

    async fn role(&mut self, path: &str, r: RoleRecord) -> Result<(), ServiceError> {
        let incident_id = self.incident_id("roles")?;
        let existing = role_assignment::Entity::find_by_id(r.id)
            .one(self.txn)
            .await?;
        let desired = role_assignment::Model {
            id: r.id,
            incident_id,
            role: r.role,
            person: r.person,
            assigned_at: r.assigned_at,
            relieved_at: r.relieved_at,
            created_at: existing.as_ref().map_or(self.now, |e| e.created_at),
            updated_at: existing.as_ref().map_or(self.now, |e| e.updated_at),
        };
        same_incident(path, existing.as_ref().map(|e| e.incident_id), incident_id)?;
        save(self.txn, desired, existing, &mut self.counts.roles, |m| {
            m.updated_at = self.now
        })
        .await
    }

    async fn sitrep(&mut self, path: &str, s: SitrepRecord) -> Result<(), ServiceError> {
        let incident_id = self.incident_id("sitreps")?;
        let existing = sitrep::Entity::find_by_id(s.id).one(self.txn).await?;
        same_incident(path, existing.as_ref().map(|e| e.incident_id), incident_id)?;
        let taken = sitrep::Entity::find()
            .filter(sitrep::Column::IncidentId.eq(incident_id))
            .filter(sitrep::Column::Version.eq(s.version))
            .filter(sitrep::Column::Id.ne(s.id))
            .one(self.txn)
            .await?;
        if taken.is_some() {
            return Err(ServiceError::Conflict {
                detail: format!(
                    "`{path}.version`: the incident already has a sitrep version {} with another id",
                    s.version
                ),
                field: Some(format!("{path}.version")),
                pending_cleanup_items: Vec::new(),
            });
        }
        let desired = sitrep::Model {
            id: s.id,
            incident_id,
            version: s.version,
            summary: s.summary,
            customer_impact: s.customer_impact,
            roles: serde_json::to_string(&s.roles).expect("roles serialise"),
            open_issues: json_list(&s.open_issues),
            resolved_issues: json_list(&s.resolved_issues),
            current_actions: json_list(&s.current_actions),
            next_update_due: s.next_update_due,
            author: s.author,
            status_update_id: s.status_update_id,
            created_at: s.created_at,
            updated_at: existing.as_ref().map_or(self.now, |e| e.updated_at),
        };
        save(self.txn, desired, existing, &mut self.counts.sitreps, |m| {
            m.updated_at = self.now
        })
        .await
    }

    async fn status_update(
        &mut self,
        path: &str,
        u: StatusUpdateRecord,
    ) -> Result<(), ServiceError> {
        let incident_id = self.incident_id("status_updates")?;
        let existing = match (u.id, &u.source, &u.external_id) {
            (Some(id), _, _) => status_update::Entity::find_by_id(id).one(self.txn).await?,
            (None, Some(source), Some(external_id)) => {
                status_update::Entity::find()
                    .filter(status_update::Column::IncidentId.eq(incident_id))
                    .filter(status_update::Column::Source.eq(source.clone()))
                    .filter(status_update::Column::ExternalId.eq(external_id.clone()))
                    .one(self.txn)
                    .await?
            }
            _ => None,
        };
        same_incident(path, existing.as_ref().map(|e| e.incident_id), incident_id)?;
        let desired = status_update::Model {
            id: u
                .id
                .or(existing.as_ref().map(|e| e.id))
                .unwrap_or_else(new_id),
            incident_id,
            status: u.status.as_str().into(),
            message: u.message,
            affected_components: json_list(&u.affected_components),
            posted_at: u.posted_at,
            source: u.source,
            external_id: u.external_id,
            created_at: existing.as_ref().map_or(self.now, |e| e.created_at),
            updated_at: existing.as_ref().map_or(self.now, |e| e.updated_at),
        };
        save(
            self.txn,
            desired,
            existing,
            &mut self.counts.status_updates,
            |m| m.updated_at = self.now,
        )
        .await
    }

    async fn cleanup_item(&mut self, path: &str, c: CleanupRecord) -> Result<(), ServiceError> {
        let incident_id = self.incident_id("cleanup_items")?;
        let existing = cleanup_item::Entity::find_by_id(c.id).one(self.txn).await?;
        same_incident(path, existing.as_ref().map(|e| e.incident_id), incident_id)?;
        let desired = cleanup_item::Model {
            id: c.id,
            incident_id,
            kind: c.kind.as_str().into(),
            description: c.description,
            owner: c.owner,
            status: c.status.as_str().into(),
            reason: c.reason,
            version: existing.as_ref().map_or(1, |e| e.version),
            created_at: c.created_at,
            updated_at: existing.as_ref().map_or(self.now, |e| e.updated_at),
        };
        let now = self.now;
        save(
            self.txn,
            desired,
            existing,
            &mut self.counts.cleanup_items,
            |m| {
                m.version += 1;
                m.updated_at = now;
            },
        )
        .await
    }

    async fn remediation_item(
        &mut self,
        _path: &str,
        r: RemediationRecord,
    ) -> Result<(), ServiceError> {
        let incident_id = self.incident_id("remediation_items")?;
        let existing = remediation_item::Entity::find_by_id(r.id)
            .one(self.txn)
            .await?;
        let number = match &existing {
            Some(e) => e.number,
            None => db::next_counter(self.txn, "remediation").await?,
        };
        let desired = remediation_item::Model {
            id: r.id,
            number,
            title: r.title,
            description: r.description,
            kind: r.kind.as_str().into(),
            priority: r.priority.as_str().into(),
            owner: r.owner,
            team: r.team,
            due_date: r.due_date,
            status: r.status.as_str().into(),
            reason: r.reason,
            tracker_url: r.tracker_url,
            closed_at: r.closed_at,
            version: existing.as_ref().map_or(1, |e| e.version),
            created_at: r.created_at,
            updated_at: existing.as_ref().map_or(self.now, |e| e.updated_at),
        };
        let before = self.counts.remediation_items;
        let now = self.now;
        save(
            self.txn,
            desired,
            existing,
            &mut self.counts.remediation_items,
            |m| {
                m.version += 1;
                m.updated_at = now;
            },
        )
        .await?;
        if self.counts.remediation_items.unchanged == before.unchanged {
            self.remediations_changed = true;
        }
        let link = remediation_incident::Model {
            remediation_id: r.id,
            incident_id,
            created_at: self.now,
        };
        let linked = remediation_incident::Entity::insert(link.into_active_model().reset_all())
            .on_conflict(
                OnConflict::columns([
                    remediation_incident::Column::RemediationId,
                    remediation_incident::Column::IncidentId,
                ])
                .do_nothing()
                .to_owned(),
            )
            .exec_without_returning(self.txn)
            .await;
        match linked {
            Ok(_) | Err(sea_orm::DbErr::RecordNotInserted) => Ok(()),
            Err(err) => Err(err.into()),
        }
    }

    /// The post-mortem, and its sections as the whole ordered list (sections
    /// the bundle does not hold are removed).
    async fn postmortem(&mut self, pm: PostmortemRecord) -> Result<(), ServiceError> {
        let incident_id = self.incident_id("postmortem")?;
        let txn = self.txn;
        let existing = postmortem::Entity::find_by_id(pm.id).one(txn).await?;
        same_incident(
            "postmortem",
            existing.as_ref().map(|e| e.incident_id),
            incident_id,
        )?;
        if existing.is_none()
            && let Some(other) = postmortem::Entity::find()
                .filter(postmortem::Column::IncidentId.eq(incident_id))
                .one(txn)
                .await?
        {
            return Err(ServiceError::Conflict {
                detail: format!(
                    "`postmortem.id`: the incident already has another post-mortem ({})",
                    other.id
                ),
                field: Some("postmortem.id".into()),
                pending_cleanup_items: Vec::new(),
            });
        }
        let published = pm.status == PostmortemStatus::Published;
        let desired = postmortem::Model {
            id: pm.id,
            incident_id,
            kind: pm.kind.as_str().into(),
            owner: pm.owner,
            due_date: pm.due_date,
            // Brought in line with the incident by `finish`.
            due_on: if pm.status == PostmortemStatus::NotRequired {
                None
            } else {
                pm.due_date.or(existing.as_ref().and_then(|e| e.due_on))
            },
            review_at: pm.review_at,
            status: pm.status.as_str().into(),
            slug: pm.slug,
            published_version: existing
                .as_ref()
                .map_or(i32::from(published), |e| e.published_version),
            published_at: pm.published_at,
            first_published_at: pm.first_published_at,
            withdrawn_at: existing.as_ref().and_then(|e| e.withdrawn_at),
            not_required_reason: pm.not_required_reason,
            version: existing.as_ref().map_or(1, |e| e.version),
            created_at: pm.created_at,
            updated_at: existing.as_ref().map_or(self.now, |e| e.updated_at),
        };
        let now = self.now;
        save(txn, desired, existing, &mut self.counts.postmortems, |m| {
            m.version += 1;
            m.updated_at = now;
        })
        .await?;
        let mut stored: HashMap<Uuid, postmortem_section::Model> =
            postmortem_section::Entity::find()
                .filter(postmortem_section::Column::PostmortemId.eq(pm.id))
                .all(txn)
                .await?
                .into_iter()
                .map(|m| (m.id, m))
                .collect();
        // Sections the bundle no longer holds go first, so that their keys
        // (unique per post-mortem) are free for the ones it does hold.
        let kept: Vec<Uuid> = pm.sections.iter().map(|s| s.id).collect();
        for id in stored
            .keys()
            .filter(|id| !kept.contains(id))
            .copied()
            .collect::<Vec<_>>()
        {
            stored.remove(&id);
            postmortem_section::Entity::delete_by_id(id)
                .exec(txn)
                .await?;
            self.counts.postmortem_sections.updated += 1;
        }
        for (position, section) in pm.sections.into_iter().enumerate() {
            let old = stored.remove(&section.id);
            let path = format!("postmortem.sections[{position}]");
            if old.is_none()
                && postmortem_section::Entity::find_by_id(section.id)
                    .one(txn)
                    .await?
                    .is_some()
            {
                same_incident(&path, Some(Uuid::nil()), incident_id)?;
            }
            let desired = postmortem_section::Model {
                id: section.id,
                postmortem_id: pm.id,
                position: i32::try_from(position).unwrap_or(i32::MAX),
                key: section.key,
                title: section.title,
                body: section.body,
                visibility: section.visibility.as_str().into(),
                created_at: old.as_ref().map_or(now, |e| e.created_at),
                updated_at: old.as_ref().map_or(now, |e| e.updated_at),
            };
            save(
                txn,
                desired,
                old,
                &mut self.counts.postmortem_sections,
                |m| m.updated_at = now,
            )
            .await?;
        }
        Ok(())
    }

    /// A chunk of timeline events: the stored ones are looked up in one
    /// query, the new ones inserted in one statement.
    async fn events(&mut self, path: &str, events: Vec<EventRecord>) -> Result<(), ServiceError> {
        let incident_id = self.incident_id(path)?;
        let txn = self.txn;
        let by_id = events.iter().all(|e| e.id.is_some());
        let mut stored: HashMap<EventKey, timeline_event::Model> = HashMap::new();
        if self.created.contains(&incident_id) {
            // A new incident has no events yet; an id stored elsewhere (or
            // twice in the file) is refused by the primary key.
        } else if by_id {
            let ids: Vec<Uuid> = events.iter().filter_map(|e| e.id).collect();
            for m in timeline_event::Entity::find()
                .filter(timeline_event::Column::Id.is_in(ids))
                .all(txn)
                .await?
            {
                if m.incident_id != incident_id {
                    return Err(ServiceError::Conflict {
                        detail: format!(
                            "timeline event {} (in the chunk from `{path}`) belongs to another incident",
                            m.id
                        ),
                        field: Some(path.to_string()),
                        pending_cleanup_items: Vec::new(),
                    });
                }
                stored.insert(EventKey::Id(m.id), m);
            }
        } else {
            let mut sources: Vec<&str> = events.iter().map(|e| e.source.as_str()).collect();
            sources.sort_unstable();
            sources.dedup();
            for source in sources {
                let external: Vec<String> = events
                    .iter()
                    .filter(|e| e.source.as_str() == source)
                    .filter_map(|e| e.external_id.clone())
                    .collect();
                for m in timeline_event::Entity::find()
                    .filter(timeline_event::Column::IncidentId.eq(incident_id))
                    .filter(timeline_event::Column::Source.eq(source))
                    .filter(timeline_event::Column::ExternalId.is_in(external))
                    .all(txn)
                    .await?
                {
                    let key = EventKey::External(
                        m.source.clone(),
                        m.external_id.clone().unwrap_or_default(),
                    );
                    stored.insert(key, m);
                }
            }
        }
        let mut inserts: Vec<timeline_event::Model> = Vec::new();
        let mut pending: HashMap<EventKey, usize> = HashMap::new();
        let counts = &mut self.counts.timeline_events;
        for e in events {
            let key = match (e.id, &e.external_id) {
                (Some(id), _) => EventKey::Id(id),
                (None, Some(x)) => EventKey::External(e.source.as_str().into(), x.clone()),
                (None, None) => EventKey::Id(new_id()),
            };
            if let Some(&at) = pending.get(&key) {
                // The same event twice in one chunk: the later one wins.
                fill_event(&mut inserts[at], e);
                continue;
            }
            match stored.get_mut(&key) {
                Some(old) => {
                    let mut m = old.clone();
                    fill_event(&mut m, e);
                    if m == *old {
                        counts.unchanged += 1;
                    } else {
                        m.updated_at = self.now;
                        m.clone()
                            .into_active_model()
                            .reset_all()
                            .update(txn)
                            .await?;
                        *old = m;
                        counts.updated += 1;
                    }
                }
                None => {
                    let mut m = timeline_event::Model {
                        id: e.id.unwrap_or_else(new_id),
                        incident_id,
                        occurred_at: e.occurred_at,
                        kind: String::new(),
                        body: String::new(),
                        author: None,
                        source: String::new(),
                        external_id: None,
                        visibility: String::new(),
                        created_at: self.now,
                        updated_at: self.now,
                    };
                    fill_event(&mut m, e);
                    pending.insert(key, inserts.len());
                    inserts.push(m);
                    counts.created += 1;
                }
            }
        }
        let postgres = txn.get_database_backend() == DbBackend::Postgres;
        if postgres && self.created.contains(&incident_id) {
            if self.held.is_empty() {
                path.clone_into(&mut self.held_path);
            }
            self.held.extend(inserts);
            if self.held.len() >= PG_INSERT_ROWS {
                self.insert_held().await?;
            }
            return Ok(());
        }
        if !inserts.is_empty() {
            let inserted = if postgres {
                insert_events_postgres(txn, &inserts).await
            } else {
                timeline_event::Entity::insert_many(
                    inserts
                        .into_iter()
                        .map(|m| m.into_active_model().reset_all()),
                )
                .exec_without_returning(txn)
                .await
                .map(|_| ())
            };
            inserted.map_err(|err| unique_conflict(path, err))?;
        }
        Ok(())
    }

    /// Insert the events held back for PostgreSQL.
    async fn insert_held(&mut self) -> Result<(), ServiceError> {
        if self.held.is_empty() {
            return Ok(());
        }
        let rows = std::mem::take(&mut self.held);
        insert_events_postgres(self.txn, &rows)
            .await
            .map_err(|err| unique_conflict(&self.held_path, err))
    }

    /// Bring each incident's derived fields (last public update, sitrep
    /// count) in line with what it now holds, and the remediation counts.
    async fn finish(&mut self) -> Result<(), ServiceError> {
        self.insert_held().await?;
        let txn = self.txn;
        for m in &mut self.touched {
            let last_update: Option<DateTime<Utc>> = status_update::Entity::find()
                .select_only()
                .column_as(status_update::Column::PostedAt.max(), "last")
                .filter(status_update::Column::IncidentId.eq(m.id))
                .into_tuple::<Option<DateTime<Utc>>>()
                .one(txn)
                .await?
                .flatten();
            let sitreps: Option<i32> = sitrep::Entity::find()
                .select_only()
                .column_as(sitrep::Column::Version.max(), "last")
                .filter(sitrep::Column::IncidentId.eq(m.id))
                .into_tuple::<Option<i32>>()
                .one(txn)
                .await?
                .flatten();
            let fresh = incident::Entity::find_by_id(m.id)
                .one(txn)
                .await?
                .ok_or_else(|| ServiceError::NotFound(format!("incident {}", m.id)))?;
            let mut updated = fresh.clone();
            updated.last_customer_update_at = last_update.max(fresh.last_customer_update_at);
            updated.sitrep_count = sitreps.unwrap_or(0).max(fresh.sitrep_count);
            if updated != fresh {
                updated
                    .clone()
                    .into_active_model()
                    .reset_all()
                    .update(txn)
                    .await?;
            }
            // Every incident has its post-mortem; a bundle's own was saved above.
            postmortems::ensure(txn, &updated, self.due_periods, self.now).await?;
            if let Some(before) = self.history_before
                && postmortems::mark_history_not_required(txn, &updated, before, self.now).await?
                && !self.created.contains(&updated.id)
            {
                self.counts.postmortems.updated += 1;
            }
            *m = updated;
        }
        if self.remediations_changed {
            remediations::rebuild_counts(txn).await?;
        }
        Ok(())
    }
}

/// How a timeline event is recognised: by id (bundles) or by
/// `(source, external_id)` (foreign formats).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum EventKey {
    Id(Uuid),
    External(String, String),
}

fn fill_event(m: &mut timeline_event::Model, e: EventRecord) {
    m.occurred_at = e.occurred_at;
    m.kind = e.kind.as_str().into();
    m.body = e.body;
    m.author = e.author;
    m.source = e.source.as_str().into();
    m.external_id = e.external_id;
    m.visibility = e.visibility.as_str().into();
}

/// PostgreSQL: one `INSERT … SELECT FROM UNNEST` of eleven array
/// parameters per chunk. It binds 11 values instead of 11 per row, which
/// makes the import about twice as fast as a multi-row `VALUES` list.
async fn insert_events_postgres(
    txn: &DatabaseTransaction,
    rows: &[timeline_event::Model],
) -> Result<(), sea_orm::DbErr> {
    let column = |f: &dyn Fn(&timeline_event::Model) -> Option<String>| -> sea_orm::Value {
        pg_array_literal(rows.iter().map(f)).into()
    };
    let time = |t: &DateTime<Utc>| Some(t.to_rfc3339());
    let values = vec![
        column(&|m| Some(m.id.to_string())),
        column(&|m| Some(m.incident_id.to_string())),
        column(&|m| time(&m.occurred_at)),
        column(&|m| Some(m.kind.clone())),
        column(&|m| Some(m.body.clone())),
        column(&|m| m.author.clone()),
        column(&|m| Some(m.source.clone())),
        column(&|m| m.external_id.clone()),
        column(&|m| Some(m.visibility.clone())),
        column(&|m| time(&m.created_at)),
        column(&|m| time(&m.updated_at)),
    ];
    txn.execute_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "INSERT INTO timeline_events (id, incident_id, occurred_at, kind, body, author, source, \
         external_id, visibility, created_at, updated_at) \
         SELECT * FROM UNNEST($1::text::uuid[], $2::text::uuid[], $3::text::timestamptz[], \
         $4::text::text[], $5::text::text[], $6::text::text[], $7::text::text[], \
         $8::text::text[], $9::text::text[], $10::text::timestamptz[], $11::text::timestamptz[])",
        values,
    ))
    .await?;
    Ok(())
}

/// A PostgreSQL array literal of quoted texts (`None` is `NULL`).
fn pg_array_literal(values: impl Iterator<Item = Option<String>>) -> String {
    let mut out = String::from("{");
    for (i, value) in values.enumerate() {
        if i > 0 {
            out.push(',');
        }
        match value {
            None => out.push_str("NULL"),
            Some(v) => {
                out.push('"');
                for c in v.chars() {
                    if c == '"' || c == '\\' {
                        out.push('\\');
                    }
                    out.push(c);
                }
                out.push('"');
            }
        }
    }
    out.push('}');
    out
}

/// A unique index refused a row: the file holds an event whose id, or
/// `(source, external_id)`, is already stored or appears twice in it.
fn unique_conflict(path: &str, err: sea_orm::DbErr) -> ServiceError {
    if matches!(
        err.sql_err(),
        Some(sea_orm::SqlErr::UniqueConstraintViolation(_))
    ) {
        return ServiceError::Conflict {
            detail: format!(
                "an event from `{path}` on has an id, or a source and external_id, \
                 that is already stored or appears twice in the file"
            ),
            field: Some(path.to_string()),
            pending_cleanup_items: Vec::new(),
        };
    }
    err.into()
}

fn milestones_of(m: &incident::Model) -> Milestones {
    Milestones {
        started_at: m.started_at,
        detected_at: m.detected_at,
        acknowledged_at: m.acknowledged_at,
        mitigated_at: m.mitigated_at,
        resolved_at: m.resolved_at,
    }
}

/// Milestones in order; the error names the fields under the record's path.
fn check_milestones(path: &str, m: &incident::Model) -> Result<(), ServiceError> {
    milestones_of(m).check().map_err(|err| match err {
        ServiceError::Validation { field, detail } => {
            let field = field
                .split(',')
                .map(|f| format!("{path}.{f}"))
                .collect::<Vec<_>>()
                .join(",");
            ServiceError::validation(field, detail)
        }
        other => other,
    })
}

/// A record whose id is stored under another incident is refused.
fn same_incident(path: &str, stored: Option<Uuid>, incident_id: Uuid) -> Result<(), ServiceError> {
    match stored {
        Some(other) if other != incident_id => Err(ServiceError::Conflict {
            detail: format!("`{path}.id` is already stored under another incident ({other})"),
            field: Some(format!("{path}.id")),
            pending_cleanup_items: Vec::new(),
        }),
        _ => Ok(()),
    }
}

/// Insert `desired`, or update the stored row when they differ (after
/// `touch` marks the change), counting the outcome.
async fn save<M, A>(
    txn: &DatabaseTransaction,
    mut desired: M,
    existing: Option<M>,
    counts: &mut KindCounts,
    touch: impl FnOnce(&mut M),
) -> Result<(), ServiceError>
where
    M: ModelTrait + IntoActiveModel<A> + Clone + PartialEq,
    A: ActiveModelTrait<Entity = M::Entity> + sea_orm::ActiveModelBehavior + Send,
    <M::Entity as EntityTrait>::Model: IntoActiveModel<A>,
{
    match existing {
        None => {
            insert_model(txn, desired.into_active_model()).await?;
            counts.created += 1;
        }
        Some(old) if old == desired => counts.unchanged += 1,
        Some(_) => {
            touch(&mut desired);
            desired.into_active_model().reset_all().update(txn).await?;
            counts.updated += 1;
        }
    }
    Ok(())
}

/// Timeline events per page of an export.
const EXPORT_PAGE: u64 = 1000;

/// An export in progress: everything but the timeline, read; the timeline
/// is read page by page from the same read transaction (one snapshot), so
/// an incident of any size is exported holding one page at a time.
pub struct BundleExport {
    /// The bundle with an empty `timeline`.
    pub head: Bundle,
    db: Option<sea_orm::DatabaseTransaction>,
    incident_id: Uuid,
    after: Option<(DateTime<Utc>, Uuid)>,
}

impl BundleExport {
    /// The next page of timeline events, oldest first; empty at the end.
    pub async fn next_events(&mut self) -> Result<Vec<BundleEvent>, ServiceError> {
        let Some(db) = &self.db else {
            return Ok(Vec::new());
        };
        let mut query = timeline_event::Entity::find()
            .filter(timeline_event::Column::IncidentId.eq(self.incident_id));
        if let Some((at, id)) = self.after {
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
        let page = query
            .order_by_asc(timeline_event::Column::OccurredAt)
            .order_by_asc(timeline_event::Column::Id)
            .limit(EXPORT_PAGE)
            .all(db)
            .await?;
        match page.last() {
            Some(last) => self.after = Some((last.occurred_at, last.id)),
            None => {
                if let Some(db) = self.db.take() {
                    db.commit().await?;
                }
            }
        }
        page.into_iter()
            .map(|e| {
                Ok(BundleEvent {
                    id: e.id,
                    occurred_at: e.occurred_at,
                    kind: parse_stored(&e.kind)?,
                    body: e.body,
                    author: e.author,
                    source: parse_stored(&e.source)?,
                    external_id: e.external_id,
                    visibility: parse_stored(&e.visibility)?,
                })
            })
            .collect()
    }
}

/// Export the whole incident in the bundle format (`timeline` last).
pub async fn export_bundle(
    ctx: &Context,
    reference: IncidentRef,
) -> Result<BundleExport, ServiceError> {
    let db = ctx.db.begin().await?;
    let incident = find_incident(&db, reference).await?;
    let id = incident.id;
    // Not `roles::list_for`: ties are broken by id, which an import keeps,
    // not by `created_at`, which it does not, so export → import → export
    // gives the same bundle.
    let roles = role_assignment::Entity::find()
        .filter(role_assignment::Column::IncidentId.eq(id))
        .order_by_asc(role_assignment::Column::AssignedAt)
        .order_by_asc(role_assignment::Column::Id)
        .all(&db)
        .await?;
    let sitreps = super::sitreps::list_for(&db, id).await?;
    let updates = super::status_updates::list_for(&db, id).await?;
    let cleanup = super::cleanup::list_for(&db, id).await?;
    let linked: Vec<Uuid> = remediation_incident::Entity::find()
        .filter(remediation_incident::Column::IncidentId.eq(id))
        .all(&db)
        .await?
        .into_iter()
        .map(|link| link.remediation_id)
        .collect();
    let remediation = remediation_item::Entity::find()
        .filter(remediation_item::Column::Id.is_in(linked))
        .order_by_asc(remediation_item::Column::CreatedAt)
        .order_by_asc(remediation_item::Column::Id)
        .all(&db)
        .await?;
    let postmortem = match postmortem::Entity::find()
        .filter(postmortem::Column::IncidentId.eq(id))
        .one(&db)
        .await?
    {
        None => None,
        Some(pm) => {
            let sections = postmortem_section::Entity::find()
                .filter(postmortem_section::Column::PostmortemId.eq(pm.id))
                .order_by_asc(postmortem_section::Column::Position)
                .all(&db)
                .await?
                .into_iter()
                .map(|s| {
                    Ok(BundleSection {
                        id: s.id,
                        key: s.key,
                        title: s.title,
                        body: s.body,
                        visibility: parse_stored(&s.visibility)?,
                    })
                })
                .collect::<Result<_, ServiceError>>()?;
            Some(BundlePostmortem {
                id: pm.id,
                kind: parse_stored(&pm.kind)?,
                owner: pm.owner,
                due_date: pm.due_date,
                review_at: pm.review_at,
                status: parse_stored(&pm.status)?,
                not_required_reason: pm.not_required_reason,
                slug: pm.slug,
                published_at: pm.published_at,
                first_published_at: pm.first_published_at,
                sections,
                created_at: pm.created_at,
            })
        }
    };
    let head = Bundle {
        format: BUNDLE_FORMAT.into(),
        version: BUNDLE_VERSION,
        incident: BundleIncident {
            id,
            title: incident.title,
            severity: parse_stored(&incident.severity)?,
            status: parse_stored(&incident.status)?,
            customer_impact: incident.customer_impact,
            affected_components: parse_json_list(&incident.affected_components),
            chat_room_url: incident.chat_room_url,
            labels: parse_json_list(&incident.labels),
            started_at: incident.started_at,
            detected_at: incident.detected_at,
            acknowledged_at: incident.acknowledged_at,
            mitigated_at: incident.mitigated_at,
            resolved_at: incident.resolved_at,
            closed_at: incident.closed_at,
            created_at: incident.created_at,
        },
        roles: roles
            .into_iter()
            .map(|r| BundleRole {
                id: r.id,
                role: r.role,
                person: r.person,
                assigned_at: r.assigned_at,
                relieved_at: r.relieved_at,
            })
            .collect(),
        sitreps: sitreps
            .into_iter()
            .map(|s| BundleSitrep {
                id: s.id,
                version: s.version,
                roles: super::sitreps::roles_of(&s),
                summary: s.summary,
                customer_impact: s.customer_impact,
                open_issues: parse_json_list(&s.open_issues),
                resolved_issues: parse_json_list(&s.resolved_issues),
                current_actions: parse_json_list(&s.current_actions),
                next_update_due: s.next_update_due,
                author: s.author,
                status_update_id: s.status_update_id,
                created_at: s.created_at,
            })
            .collect(),
        status_updates: updates
            .into_iter()
            .map(|u| {
                Ok(BundleStatusUpdate {
                    id: u.id,
                    status: parse_stored(&u.status)?,
                    message: u.message,
                    affected_components: parse_json_list(&u.affected_components),
                    posted_at: u.posted_at,
                    source: u.source,
                    external_id: u.external_id,
                })
            })
            .collect::<Result<_, ServiceError>>()?,
        cleanup_items: cleanup
            .into_iter()
            .map(|c| {
                Ok(BundleCleanupItem {
                    id: c.id,
                    kind: parse_stored(&c.kind)?,
                    description: c.description,
                    owner: c.owner,
                    status: parse_stored(&c.status)?,
                    reason: c.reason,
                    created_at: c.created_at,
                })
            })
            .collect::<Result<_, ServiceError>>()?,
        remediation_items: remediation
            .into_iter()
            .map(|r| {
                Ok(BundleRemediationItem {
                    id: r.id,
                    title: r.title,
                    description: r.description,
                    kind: parse_stored(&r.kind)?,
                    priority: parse_stored(&r.priority)?,
                    owner: r.owner,
                    team: r.team,
                    due_date: r.due_date,
                    status: parse_stored(&r.status)?,
                    reason: r.reason,
                    tracker_url: r.tracker_url,
                    closed_at: r.closed_at,
                    created_at: r.created_at,
                })
            })
            .collect::<Result<_, ServiceError>>()?,
        postmortem,
        timeline: Vec::new(),
    };
    Ok(BundleExport {
        head,
        db: Some(db),
        incident_id: id,
        after: None,
    })
}

#[cfg(test)]
mod tests {
    use super::pg_array_literal;

    #[test]
    fn array_literals_quote_escape_and_null() {
        let values = [
            Some("plain".to_string()),
            None,
            Some(r#"say "hi" \ {x,y}"#.to_string()),
            Some("NULL".to_string()),
        ];
        assert_eq!(
            pg_array_literal(values.into_iter()),
            r#"{"plain",NULL,"say \"hi\" \\ {x,y}","NULL"}"#
        );
    }
}
