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
    io::{Read, Seek},
    path::Path,
};

use chrono::{DateTime, Utc};
use sea_orm::{DatabaseTransaction, EntityTrait};
use serde::Serialize;
use tokio::sync::mpsc;
use uuid::Uuid;

pub use super::KindCounts;
pub use super::bundle_export::{BundleExport, export_bundle};
use super::{
    Context, Outcome, ServiceError, cleanup,
    cleanup::CleanupWrite,
    find_incident,
    incidents::{self, IncidentWrite},
    postmortems::{self, PostmortemWrite},
    remediations::{self, RemediationWrite},
    roles::{self, RoleWrite},
    sitreps::{self, SitrepWrite},
    status_updates::{self, StatusUpdateWrite},
    timeline::{EventWrite, EventWriter, NewTimelineEvent, Stored},
};
use crate::{
    config::PostmortemDue,
    domain::IncidentRef,
    entities::incident,
    ingest::{
        self, EventRecord, ImportError, ImportFormat, IncidentRecord, ParseOptions,
        PostmortemRecord, Record, Shortening,
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
                return Err(ServiceError::Internal(
                    anyhow::Error::new(e).context(format!("cannot read {}", path.display())),
                ));
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
        .map_err(|e| ServiceError::Internal(anyhow::Error::new(e).context("import check failed")))?
        .map_err(ServiceError::from)
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
    std::fs::File::open(path).map_err(|e| {
        ServiceError::Internal(
            anyhow::Error::new(e).context(format!("cannot open {}", path.display())),
        )
    })
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
    let read = reading.await.map_err(|e| {
        ServiceError::Internal(anyhow::Error::new(e).context("import reader failed"))
    })?;
    let outcome = match (applied, read) {
        (Err(err), _) => Err(err),
        (Ok(()), Err(err)) => Err(err.into()),
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

/// The actor an import's changes are recorded under (remediation history).
const IMPORT_ACTOR: &str = "import";

/// The import in progress: the transaction, the incident records now go to,
/// and the counts. Every record is written by its kind's service function
/// ([`incidents::write`], [`roles::write`] …), which matches it with what is
/// stored and says what it did.
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
    /// Post-mortems of incidents resolved before this day become
    /// `not_required` (see [`postmortems::mark_history_not_required`]).
    history_before: Option<chrono::NaiveDate>,
    /// Incidents this import created: nothing of theirs can be stored yet,
    /// so their events are inserted without looking them up first.
    created: Vec<Uuid>,
    /// The timeline's batch writer, which may hold rows back.
    events: EventWriter,
    /// The path of the first chunk of events not inserted yet, for errors.
    held_path: String,
}

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
            history_before: None,
            created: Vec::new(),
            events: EventWriter::default(),
            held_path: String::new(),
        }
    }

    fn enter(&mut self, incident: incident::Model) {
        if !self.touched.iter().any(|i| i.id == incident.id) {
            self.touched.push(incident.clone());
        }
        self.current = Some(incident);
    }

    /// The incident the records of `section` go to.
    fn incident(&self, section: &str) -> Result<&incident::Model, ServiceError> {
        self.current.as_ref().ok_or_else(|| {
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
            self.flush_events().await?;
        }
        let (txn, now) = (self.txn, self.now);
        match record {
            Record::Incident(rec) => self.incident_record(*rec).await?,
            Record::Roles(roles) => {
                for (i, role) in roles.into_iter().enumerate() {
                    let incident = self.incident("roles")?;
                    let written = roles::write(txn, incident, RoleWrite::Import(role), now)
                        .await
                        .map_err(|err| under(&format!("roles[{i}]"), err))?;
                    self.counts.roles.count(written.outcome);
                }
            }
            Record::Sitreps(sitreps) => {
                for (i, s) in sitreps.into_iter().enumerate() {
                    let incident = self.incident("sitreps")?;
                    let (written, _) = sitreps::write(txn, incident, SitrepWrite::Import(s), now)
                        .await
                        .map_err(|err| under(&format!("sitreps[{i}]"), err))?;
                    self.counts.sitreps.count(written.outcome);
                }
            }
            Record::StatusUpdates(updates) => {
                for (i, u) in updates.into_iter().enumerate() {
                    let incident = self.incident("status_updates")?;
                    let write = StatusUpdateWrite::Import(u);
                    let written = status_updates::write(txn, incident, write, now)
                        .await
                        .map_err(|err| under(&format!("status_updates[{i}]"), err))?;
                    self.counts.status_updates.count(written.outcome);
                }
            }
            Record::CleanupItems(items) => {
                for (i, c) in items.into_iter().enumerate() {
                    let incident = self.incident("cleanup_items")?;
                    let written = cleanup::write(txn, incident, CleanupWrite::Import(c), now)
                        .await
                        .map_err(|err| under(&format!("cleanup_items[{i}]"), err))?;
                    self.counts.cleanup_items.count(written.outcome);
                }
            }
            Record::RemediationItems(items) => {
                for (i, record) in items.into_iter().enumerate() {
                    let incident = self.incident("remediation_items")?;
                    let write = RemediationWrite::Import { record, incident };
                    let written = remediations::write(txn, write, IMPORT_ACTOR, now)
                        .await
                        .map_err(|err| under(&format!("remediation_items[{i}]"), err))?;
                    self.counts.remediation_items.count(written.outcome);
                }
            }
            Record::Postmortem(pm) => self.postmortem_record(*pm).await?,
            Record::Events { path, events } => self.events(&path, events).await?,
            Record::FillMilestones {
                detected_at,
                acknowledged_at,
            } => self.fill_milestones(detected_at, acknowledged_at).await?,
            Record::Skipped(n) => self.skipped += n,
            Record::Shortened(list) => self.note_shortened(list),
        }
        Ok(())
    }

    /// An incident of the file, created or updated; the records that
    /// follow go to it.
    async fn incident_record(&mut self, rec: IncidentRecord) -> Result<(), ServiceError> {
        let path = rec.path.clone();
        let write = IncidentWrite::Import(rec);
        let written = incidents::write(self.txn, write, self.due_periods, self.now)
            .await
            .map_err(|err| under(&path, err))?;
        self.counts.incidents.count(written.outcome);
        if written.outcome == Outcome::Created {
            self.created.push(written.model.id);
        }
        self.enter(written.model);
        Ok(())
    }

    /// The current incident's post-mortem, with its sections.
    async fn postmortem_record(&mut self, pm: PostmortemRecord) -> Result<(), ServiceError> {
        let incident = self.incident("postmortem")?;
        let write = PostmortemWrite::Import(pm);
        let written = postmortems::write(self.txn, incident, write, self.due_periods, self.now)
            .await
            .map_err(|err| under("postmortem", err))?;
        self.counts.postmortems.count(written.postmortem.outcome);
        self.counts.postmortem_sections.add(written.sections);
        Ok(())
    }

    /// Values the parser shortened: all counted, the first few listed.
    fn note_shortened(&mut self, list: Vec<Shortening>) {
        self.shortened_total += list.len() as u64;
        let room = SHORTENINGS_LISTED.saturating_sub(self.shortened.len());
        self.shortened.extend(list.into_iter().take(room));
    }

    /// Milestones read from a foreign timeline, where the incident has none.
    async fn fill_milestones(
        &mut self,
        detected_at: Option<(DateTime<Utc>, String)>,
        acknowledged_at: Option<(DateTime<Utc>, String)>,
    ) -> Result<(), ServiceError> {
        let current = self
            .current
            .as_ref()
            .ok_or_else(|| ServiceError::validation("incident", "no incident to add to"))?;
        let mut path = None;
        let detected_at = match (current.detected_at, detected_at) {
            (None, Some((at, p))) => {
                path = Some(p);
                Some(at)
            }
            _ => None,
        };
        let acknowledged_at = match (current.acknowledged_at, acknowledged_at) {
            (None, Some((at, p))) => {
                path = Some(p);
                Some(at)
            }
            _ => None,
        };
        let Some(path) = path else { return Ok(()) };
        let write = IncidentWrite::FillMilestones {
            id: current.id,
            detected_at,
            acknowledged_at,
        };
        // Filling milestones is part of the events' import, not an incident
        // record of the file: it is not counted separately.
        let written = incidents::write(self.txn, write, self.due_periods, self.now)
            .await
            .map_err(|err| match err {
                ServiceError::Validation { detail, .. } => ServiceError::validation(
                    path,
                    format!("this entry sets a milestone out of order: {detail}"),
                ),
                other => other,
            })?;
        self.enter(written.model);
        Ok(())
    }

    /// A chunk of timeline events, through the timeline's batch writer.
    async fn events(&mut self, path: &str, events: Vec<EventRecord>) -> Result<(), ServiceError> {
        let incident_id = self.incident(path)?.id;
        let stored = if self.created.contains(&incident_id) {
            Stored::Nothing
        } else {
            Stored::Update
        };
        if !self.events.holding() {
            path.clone_into(&mut self.held_path);
        }
        let events = events
            .into_iter()
            .map(|e| EventWrite {
                id: e.id,
                event: NewTimelineEvent {
                    occurred_at: e.occurred_at,
                    kind: e.kind,
                    body: e.body,
                    author: e.author,
                    source: e.source,
                    external_id: e.external_id,
                    visibility: e.visibility,
                },
            })
            .collect();
        let counts = self
            .events
            .write(self.txn, incident_id, events, stored, self.now)
            .await
            .map_err(|err| under(&self.held_path, err))?;
        self.counts.timeline_events.add(counts);
        Ok(())
    }

    /// Insert the events the timeline's writer holds back.
    async fn flush_events(&mut self) -> Result<(), ServiceError> {
        self.events
            .flush(self.txn)
            .await
            .map_err(|err| under(&self.held_path, err))
    }

    /// Every incident has its post-mortem (a bundle's own was written
    /// above), and imported history may need none.
    async fn finish(&mut self) -> Result<(), ServiceError> {
        self.flush_events().await?;
        let txn = self.txn;
        for m in &mut self.touched {
            let fresh = incident::Entity::find_by_id(m.id)
                .one(txn)
                .await?
                .ok_or_else(|| ServiceError::NotFound(format!("incident {}", m.id)))?;
            postmortems::ensure(txn, &fresh, self.due_periods, self.now).await?;
            if let Some(before) = self.history_before
                && postmortems::mark_history_not_required(txn, &fresh, before, self.now).await?
                && !self.created.contains(&fresh.id)
            {
                self.counts.postmortems.updated += 1;
            }
            *m = fresh;
        }
        Ok(())
    }
}

/// A file that cannot be imported is the client's fault (422 for a value
/// that breaks a rule or a limit, 400 for a file that cannot be read at
/// all), except when the import stopped on the database side.
impl From<ImportError> for ServiceError {
    fn from(err: ImportError) -> Self {
        match err {
            ImportError::InvalidValue { field, detail } => Self::Validation { field, detail },
            ImportError::Malformed { field, detail } => Self::bad_request(field, detail),
            ImportError::Read(_) | ImportError::ZipRead(_) | ImportError::NotZip(_) => {
                Self::bad_request("body", err.to_string())
            }
            ImportError::LimitExceeded { .. } => Self::validation("body", err.to_string()),
            ImportError::Stopped => Self::Internal(anyhow::Error::new(err)),
        }
    }
}

/// An error of one record's write with its fields named under the
/// record's path in the file (`roles[2]` and `id`: `roles[2].id`).
fn under(path: &str, err: ServiceError) -> ServiceError {
    let fields_under = |fields: &str| {
        fields
            .split(',')
            .map(|f| format!("{path}.{f}"))
            .collect::<Vec<_>>()
            .join(",")
    };
    match err {
        ServiceError::Validation { field, detail } => {
            ServiceError::validation(fields_under(&field), detail)
        }
        ServiceError::Conflict {
            detail,
            field,
            details,
        } => ServiceError::Conflict {
            detail: format!("`{path}`: {detail}"),
            field: Some(field.map_or_else(|| path.to_string(), |f| fields_under(&f))),
            details,
        },
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::{ServiceError, under};

    #[test]
    fn a_record_error_names_the_fields_under_the_record_path() {
        let err = under(
            "incident",
            ServiceError::validation("started_at,detected_at", "out of order"),
        );
        assert!(
            matches!(&err, ServiceError::Validation { field, .. }
                if field == "incident.started_at,incident.detected_at"),
            "{err:?}"
        );
        let conflict = |field: Option<&str>| ServiceError::Conflict {
            detail: "taken".into(),
            field: field.map(Into::into),
            details: None,
        };
        let err = under("roles[2]", conflict(Some("id")));
        assert!(
            matches!(&err, ServiceError::Conflict { field: Some(field), detail, .. }
                if field == "roles[2].id" && detail == "`roles[2]`: taken"),
            "{err:?}"
        );
        let err = under("timeline[1000]", conflict(None));
        assert!(
            matches!(&err, ServiceError::Conflict { field: Some(field), .. }
                if field == "timeline[1000]"),
            "{err:?}"
        );
        assert!(matches!(
            under("roles[0]", ServiceError::NotFound("x".into())),
            ServiceError::NotFound(_)
        ));
    }
}
