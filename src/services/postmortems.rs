//! Post-mortems: one per incident, with ordered sections, a due date from
//! the severity, the internal and public documents rendered from the
//! incident's record, and publication as immutable snapshots.

use std::{
    collections::{BTreeMap, HashMap},
    sync::Arc,
};

use bytes::Bytes;
use chrono::{DateTime, Datelike, Days, NaiveDate, Utc, Weekday};
use chrono_tz::Tz;
use futures_util::TryStreamExt;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait,
    IntoActiveModel, LoaderTrait, QueryFilter, QueryOrder, sea_query::OnConflict,
};
use sha2::{Digest, Sha256};
use tokio::sync::OwnedSemaphorePermit;
use uuid::Uuid;

use super::{
    Context, KindCounts, Outcome, ServiceError, Written, check_if_match, find_incident,
    insert_model, new_id, same_incident, store,
};
use crate::{
    config::{DuePeriod, PostmortemDue},
    db,
    domain::{
        CleanupStatus, EventSource, IncidentRef, PostmortemKind, PostmortemStatus, Visibility,
    },
    entities::{
        cleanup_item, incident, postmortem, postmortem_publication, postmortem_section,
        postmortem_snapshot, remediation_incident, remediation_item, role_assignment,
        service_state, sitrep, status_update, timeline_event,
    },
    ingest::{PostmortemRecord, SectionRecord},
    reports::{
        self, CleanupRow, Figure, Format, PostmortemDocument, RemediationRow, RoleRow,
        SectionBlock, SitrepRow, StatusUpdateRow, Templates, TimelineRow, Variant, figures, html,
        pdf::{self, PdfOptions},
        redaction::{Leak, RedactionRules, RuleOrigin},
    },
    services::{
        redactions,
        render_queue::{self, Fingerprint, RenderTicket},
        stats,
    },
};

/// The sections a new post-mortem starts with: key, title, visibility.
/// `timeline` and `action_items` are generated from the record (their body,
/// if any, is printed above the generated part).
pub const DEFAULT_SECTIONS: &[(&str, &str, Visibility)] = &[
    ("summary", "Summary", Visibility::Internal),
    ("impact", "Impact", Visibility::Internal),
    ("timeline", "Timeline", Visibility::Internal),
    ("root_cause", "Root cause", Visibility::Internal),
    ("trigger", "Trigger", Visibility::Internal),
    ("detection", "Detection", Visibility::Internal),
    ("resolution", "Resolution", Visibility::Internal),
    (
        "contributing_factors",
        "Contributing factors",
        Visibility::Internal,
    ),
    ("what_went_well", "What went well", Visibility::Internal),
    ("what_went_wrong", "What went wrong", Visibility::Internal),
    (
        "where_we_got_lucky",
        "Where we got lucky",
        Visibility::Internal,
    ),
    ("action_items", "Action items", Visibility::Internal),
    ("public_summary", "Summary", Visibility::Public),
    ("what_happened", "What happened", Visibility::Public),
    (
        "what_we_are_doing",
        "What we are doing about it",
        Visibility::Public,
    ),
];

/// Sections whose content Debrief generates.
pub const GENERATED_SECTIONS: &[&str] = &["timeline", "action_items"];

/// A post-mortem with its sections, in order.
#[derive(Debug, Clone)]
pub struct PostmortemView {
    pub postmortem: postmortem::Model,
    pub incident: incident::Model,
    pub sections: Vec<postmortem_section::Model>,
    /// The effective due date: set explicitly, or from the severity.
    pub due_date: Option<NaiveDate>,
    /// Not published and the due date has passed.
    pub overdue: bool,
}

/// A section as given in a PUT.
#[derive(Debug, Clone)]
pub struct SectionInput {
    pub key: String,
    pub title: String,
    pub body: String,
    pub visibility: Visibility,
}

/// Changes to a post-mortem; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct PostmortemChanges {
    pub kind: Option<PostmortemKind>,
    pub owner: Option<Option<String>>,
    /// `Some(None)`: back to the due date from the severity.
    pub due_date: Option<Option<NaiveDate>>,
    pub review_at: Option<Option<DateTime<Utc>>>,
    pub status: Option<PostmortemStatus>,
    /// Why no post-mortem is needed: with `status` `not_required` (or on
    /// one that is), already checked as a required text.
    pub not_required_reason: Option<String>,
    /// The whole ordered list of sections, replacing the current one.
    pub sections: Option<Vec<SectionInput>>,
}

/// The due date of a post-mortem by its incident's severity, counted from
/// the day the incident started (UTC), with the configured due periods.
pub fn due_by_severity(periods: &PostmortemDue, incident: &incident::Model) -> Option<NaiveDate> {
    let start = incident
        .started_at
        .unwrap_or(incident.created_at)
        .date_naive();
    due_after(start, periods.period(incident.severity))
}

/// The due date in force (`due_on`) of a post-mortem: none when it is
/// `not_required`, else the one set on it, else its incident's severity's.
pub fn due_in_force(
    postmortem: &postmortem::Model,
    incident: &incident::Model,
    periods: &PostmortemDue,
) -> Option<NaiveDate> {
    if postmortem.status == PostmortemStatus::NotRequired {
        return None;
    }
    postmortem
        .due_date
        .or_else(|| due_by_severity(periods, incident))
}

/// `start` plus a due period; business days skip Saturdays and Sundays.
pub fn due_after(start: NaiveDate, period: DuePeriod) -> Option<NaiveDate> {
    match period {
        DuePeriod::None => None,
        DuePeriod::Days(n) => start.checked_add_days(Days::new(u64::from(n))),
        DuePeriod::BusinessDays(n) => {
            let mut day = start;
            let mut left = n;
            while left > 0 {
                day = day.succ_opt()?;
                if !matches!(day.weekday(), Weekday::Sat | Weekday::Sun) {
                    left -= 1;
                }
            }
            Some(day)
        }
    }
}

fn view(
    ctx: &Context,
    incident: incident::Model,
    postmortem: postmortem::Model,
    sections: Vec<postmortem_section::Model>,
) -> PostmortemView {
    // `not_required`: no due date in force, so never overdue.
    let due_date = due_in_force(&postmortem, &incident, &ctx.settings.postmortem_due);
    let overdue = postmortem.status != PostmortemStatus::Published
        && due_date.is_some_and(|due| due < ctx.now().date_naive());
    PostmortemView {
        postmortem,
        incident,
        sections,
        due_date,
        overdue,
    }
}

/// Create the post-mortem of every incident that has none (incidents
/// recorded before post-mortems existed), a thousand per transaction so
/// that a post-mortem never exists without its sections. Returns how many
/// were created.
pub async fn ensure_all(
    db: &DatabaseConnection,
    periods: &PostmortemDue,
    now: DateTime<Utc>,
) -> Result<u64, ServiceError> {
    use sea_orm::{QuerySelect, sea_query::Query};
    let mut created = 0;
    loop {
        let txn = db::begin_write(db).await?;
        let missing = incident::Entity::find()
            .filter(
                incident::Column::Id.not_in_subquery(
                    Query::select()
                        .column(postmortem::Column::IncidentId)
                        .from(postmortem::Entity)
                        .to_owned(),
                ),
            )
            .limit(1000)
            .all(&txn)
            .await?;
        for incident in &missing {
            ensure(&txn, incident, periods, now).await?;
        }
        txn.commit().await?;
        if missing.is_empty() {
            return Ok(created);
        }
        created += missing.len() as u64;
    }
}

/// Bring the due date in force (`due_on`) of every post-mortem without a
/// set due date in line with the configured periods (they may have changed
/// since it was stored). Returns how many changed.
pub async fn sync_due_on<C: ConnectionTrait>(
    db: &C,
    periods: &PostmortemDue,
) -> Result<u64, ServiceError> {
    let followers = postmortem::Entity::find()
        .filter(postmortem::Column::DueDate.is_null())
        .filter(postmortem::Column::Status.ne(PostmortemStatus::NotRequired))
        .find_also_related(incident::Entity)
        .all(db)
        .await?;
    let mut changed = 0;
    for (postmortem, incident) in followers {
        // The foreign key keeps every post-mortem's incident.
        let Some(incident) = incident else { continue };
        let due_on = due_by_severity(periods, &incident);
        if postmortem.due_on != due_on {
            set_due_on(db, postmortem.id, due_on).await?;
            changed += 1;
        }
    }
    Ok(changed)
}

/// The `service_state` key of the due periods the stored `due_on` dates
/// were computed with.
const DUE_PERIODS_KEY: &str = "postmortem_due_periods";

/// [`sync_due_on`], when the configured periods differ from the ones the
/// stored dates were computed with (or those were never recorded); then
/// record them. A start with unchanged settings reads one row instead of
/// every post-mortem. Returns how many changed, `None` when it was skipped.
pub async fn sync_due_on_if_changed(
    db: &DatabaseConnection,
    periods: &PostmortemDue,
    now: DateTime<Utc>,
) -> Result<Option<u64>, ServiceError> {
    let current = serde_json::to_string(periods).map_err(|e| ServiceError::Internal(e.into()))?;
    let recorded = service_state::Entity::find_by_id(DUE_PERIODS_KEY)
        .one(db)
        .await?;
    if recorded.is_some_and(|r| r.value == current) {
        return Ok(None);
    }
    let changed = sync_due_on(db, periods).await?;
    service_state::Entity::insert(
        service_state::Model {
            key: DUE_PERIODS_KEY.into(),
            value: current,
            updated_at: now,
        }
        .into_active_model(),
    )
    .on_conflict(
        OnConflict::column(service_state::Column::Key)
            .update_columns([
                service_state::Column::Value,
                service_state::Column::UpdatedAt,
            ])
            .to_owned(),
    )
    .exec_without_returning(db)
    .await?;
    Ok(Some(changed))
}

async fn set_due_on<C: ConnectionTrait>(
    db: &C,
    id: Uuid,
    due_on: Option<NaiveDate>,
) -> Result<(), ServiceError> {
    use sea_orm::sea_query::Expr;
    postmortem::Entity::update_many()
        .col_expr(postmortem::Column::DueOn, Expr::value(due_on))
        .filter(postmortem::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(())
}

async fn sections_of<C: ConnectionTrait>(
    db: &C,
    postmortem_id: Uuid,
) -> Result<Vec<postmortem_section::Model>, ServiceError> {
    Ok(postmortem_section::Entity::find()
        .filter(postmortem_section::Column::PostmortemId.eq(postmortem_id))
        .order_by_asc(postmortem_section::Column::Position)
        .all(db)
        .await?)
}

/// The post-mortem of an incident, created with the default sections if it
/// has none yet, its due date in force (`due_on`) brought in line with the
/// incident as it is now. Every incident has exactly one: it is created
/// with the incident (and by an import that creates incidents), and
/// [`ensure_all`] fills in any that are missing when the database is
/// migrated.
pub(crate) async fn ensure<C: ConnectionTrait>(
    db: &C,
    incident: &incident::Model,
    periods: &PostmortemDue,
    now: DateTime<Utc>,
) -> Result<postmortem::Model, ServiceError> {
    let existing = postmortem::Entity::find()
        .filter(postmortem::Column::IncidentId.eq(incident.id))
        .one(db)
        .await?;
    if let Some(mut existing) = existing {
        let due_on = due_in_force(&existing, incident, periods);
        if existing.due_on != due_on {
            set_due_on(db, existing.id, due_on).await?;
            existing.due_on = due_on;
        }
        return Ok(existing);
    }
    let model = postmortem::Model {
        id: new_id(),
        incident_id: incident.id,
        kind: PostmortemKind::Dedicated,
        owner: None,
        due_date: None,
        due_on: due_by_severity(periods, incident),
        review_at: None,
        status: PostmortemStatus::Draft,
        slug: None,
        published_version: 0,
        published_at: None,
        first_published_at: None,
        withdrawn_at: None,
        not_required_reason: None,
        version: 1,
        created_at: now,
        updated_at: now,
    };
    // Two first requests at once: one insert wins, the other does nothing.
    let inserted = postmortem::Entity::insert(model.clone().into_active_model())
        .on_conflict(
            OnConflict::column(postmortem::Column::IncidentId)
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    if inserted == 1 {
        let sections: Vec<_> = DEFAULT_SECTIONS
            .iter()
            .enumerate()
            .map(|(position, (key, title, visibility))| {
                postmortem_section::Model {
                    id: new_id(),
                    postmortem_id: model.id,
                    position: position as i32,
                    key: (*key).into(),
                    title: (*title).into(),
                    body: String::new(),
                    visibility: *visibility,
                    created_at: now,
                    updated_at: now,
                }
                .into_active_model()
            })
            .collect();
        postmortem_section::Entity::insert_many(sections)
            .exec_without_returning(db)
            .await?;
        return Ok(model);
    }
    postmortem::Entity::find()
        .filter(postmortem::Column::IncidentId.eq(incident.id))
        .one(db)
        .await?
        .ok_or_else(|| ServiceError::Internal(anyhow::anyhow!("post-mortem vanished")))
}

/// Load an incident's post-mortem. A read never writes: every incident gets
/// its post-mortem in the transaction that records it (and incidents older
/// than post-mortems get theirs at start-up, `services::upkeep`), so one
/// missing is a broken invariant, reported as such.
pub async fn get(ctx: &Context, reference: IncidentRef) -> Result<PostmortemView, ServiceError> {
    let incident = find_incident(&ctx.db, reference).await?;
    let postmortem = postmortem::Entity::find()
        .filter(postmortem::Column::IncidentId.eq(incident.id))
        .one(&ctx.db)
        .await?
        .ok_or_else(|| {
            ServiceError::Internal(anyhow::anyhow!(
                "incident {} ({}) has no post-mortem: run `debrief migrate` to create the missing ones",
                incident.number,
                incident.id
            ))
        })?;
    let sections = sections_of(&ctx.db, postmortem.id).await?;
    Ok(view(ctx, incident, postmortem, sections))
}

/// A post-mortem to store (its creation with the default sections is
/// [`ensure`]'s).
#[derive(Debug, Clone)]
pub enum PostmortemWrite<'a> {
    /// A change made now (the API), `If-Match` checked. `published` is
    /// reached only by publishing; `not_required` needs a reason and may be
    /// set on a `draft` or `in_review` post-mortem (a `published` one is
    /// withdrawn first: 409); it leaves by setting `draft` or `in_review`,
    /// which drops the reason and puts the due date back in force. Sections
    /// given replace the whole list.
    Change {
        if_match: Option<&'a str>,
        changes: PostmortemChanges,
    },
    /// Brought in by an import with its own id, publication history and
    /// sections (the whole ordered list: sections it does not hold are
    /// removed), each matched by id and updated when it differs.
    Import(PostmortemRecord),
}

/// What a post-mortem write did: to the post-mortem, and to its sections
/// (counted one by one for an import; a changed list is one update for
/// the API, which replaces it whole).
#[derive(Debug, Clone)]
pub struct PostmortemWritten {
    pub postmortem: Written<postmortem::Model>,
    pub sections: KindCounts,
}

/// Change a post-mortem (see [`PostmortemWrite::Change`]).
pub async fn update(
    ctx: &Context,
    reference: IncidentRef,
    if_match: Option<&str>,
    changes: PostmortemChanges,
) -> Result<PostmortemView, ServiceError> {
    // Before anything is looked up: a bad change is refused as it is.
    check_changes(&changes)?;
    let now = ctx.now();
    let periods = &ctx.settings.postmortem_due;
    let txn = ctx.begin_write().await?;
    let incident = find_incident(&txn, reference).await?;
    let change = PostmortemWrite::Change { if_match, changes };
    let next = write(&txn, &incident, change, periods, now)
        .await?
        .postmortem
        .model;
    let sections = sections_of(&txn, next.id).await?;
    txn.commit().await?;
    Ok(view(ctx, incident, next, sections))
}

/// Store the post-mortem of `incident` and its sections inside the caller's
/// transaction: the one writer of post-mortems besides [`ensure`] (which
/// creates them) and publication. Its due date in force follows the
/// incident.
pub async fn write<C: ConnectionTrait>(
    db: &C,
    incident: &incident::Model,
    write: PostmortemWrite<'_>,
    periods: &PostmortemDue,
    now: DateTime<Utc>,
) -> Result<PostmortemWritten, ServiceError> {
    match write {
        PostmortemWrite::Change { if_match, changes } => {
            check_changes(&changes)?;
            let current = ensure(db, incident, periods, now).await?;
            check_if_match(if_match, current.version)?;
            let mut next = current.clone();
            apply_status(&mut next, changes.status, changes.not_required_reason)?;
            if let Some(kind) = changes.kind {
                next.kind = kind;
            }
            if let Some(owner) = changes.owner {
                next.owner = owner;
            }
            if let Some(due) = changes.due_date {
                next.due_date = due;
            }
            next.due_on = due_in_force(&next, incident, periods);
            if let Some(review_at) = changes.review_at {
                next.review_at = review_at;
            }
            let mut sections = KindCounts::default();
            if let Some(inputs) = changes.sections {
                sections = replace_sections(db, current.id, &inputs, now).await?;
            }
            let outcome = if next != current || sections.updated > 0 {
                next.version += 1;
                next.updated_at = now;
                postmortem::Entity::update(next.clone().into_active_model().reset_all())
                    .exec(db)
                    .await?;
                Outcome::Updated
            } else {
                Outcome::Unchanged
            };
            Ok(PostmortemWritten {
                postmortem: Written {
                    model: next,
                    outcome,
                },
                sections,
            })
        }
        PostmortemWrite::Import(pm) => {
            let stored = postmortem::Entity::find_by_id(pm.id).one(db).await?;
            same_incident(stored.as_ref().map(|e| e.incident_id), incident.id)?;
            if stored.is_none()
                && let Some(other) = postmortem::Entity::find()
                    .filter(postmortem::Column::IncidentId.eq(incident.id))
                    .one(db)
                    .await?
            {
                return Err(ServiceError::Conflict {
                    detail: format!(
                        "the incident already has another post-mortem ({})",
                        other.id
                    ),
                    field: Some("id".into()),
                    details: None,
                });
            }
            let published = pm.status == PostmortemStatus::Published;
            let mut next = postmortem::Model {
                id: pm.id,
                incident_id: incident.id,
                kind: pm.kind,
                owner: pm.owner,
                due_date: pm.due_date,
                due_on: None,
                review_at: pm.review_at,
                status: pm.status,
                slug: pm.slug,
                published_version: stored
                    .as_ref()
                    .map_or(i32::from(published), |e| e.published_version),
                published_at: pm.published_at,
                first_published_at: pm.first_published_at,
                withdrawn_at: stored.as_ref().and_then(|e| e.withdrawn_at),
                not_required_reason: pm.not_required_reason,
                version: stored.as_ref().map_or(1, |e| e.version),
                created_at: pm.created_at,
                updated_at: stored.as_ref().map_or(now, |e| e.updated_at),
            };
            next.due_on = due_in_force(&next, incident, periods);
            let postmortem = store(db, stored, next, |m| {
                m.version += 1;
                m.updated_at = now;
            })
            .await?;
            let sections = import_sections(db, pm.id, pm.sections, now).await?;
            Ok(PostmortemWritten {
                postmortem,
                sections,
            })
        }
    }
}

/// What a change may not ask for, whatever the post-mortem holds.
fn check_changes(changes: &PostmortemChanges) -> Result<(), ServiceError> {
    if changes.status == Some(PostmortemStatus::Published) {
        return Err(ServiceError::validation(
            "status",
            "a post-mortem becomes `published` only through POST …/postmortem/publish",
        ));
    }
    if let Some(sections) = &changes.sections {
        check_sections(sections)?;
    }
    Ok(())
}

/// Replace the sections of a post-mortem with `inputs` (a section keeps
/// its creation time by key), unless they already hold them: one update.
async fn replace_sections<C: ConnectionTrait>(
    db: &C,
    postmortem_id: Uuid,
    inputs: &[SectionInput],
    now: DateTime<Utc>,
) -> Result<KindCounts, ServiceError> {
    let current_sections = sections_of(db, postmortem_id).await?;
    let unchanged = current_sections.len() == inputs.len()
        && current_sections.iter().zip(inputs).all(|(s, i)| {
            s.key == i.key && s.title == i.title && s.body == i.body && s.visibility == i.visibility
        });
    if unchanged {
        return Ok(KindCounts {
            unchanged: 1,
            ..KindCounts::default()
        });
    }
    let created: BTreeMap<&str, DateTime<Utc>> = current_sections
        .iter()
        .map(|s| (s.key.as_str(), s.created_at))
        .collect();
    postmortem_section::Entity::delete_many()
        .filter(postmortem_section::Column::PostmortemId.eq(postmortem_id))
        .exec(db)
        .await?;
    if !inputs.is_empty() {
        let rows: Vec<_> = inputs
            .iter()
            .enumerate()
            .map(|(position, s)| {
                postmortem_section::Model {
                    id: new_id(),
                    postmortem_id,
                    position: position as i32,
                    key: s.key.clone(),
                    title: s.title.clone(),
                    body: s.body.clone(),
                    visibility: s.visibility,
                    created_at: created.get(s.key.as_str()).copied().unwrap_or(now),
                    updated_at: now,
                }
                .into_active_model()
            })
            .collect();
        postmortem_section::Entity::insert_many(rows)
            .exec_without_returning(db)
            .await?;
    }
    Ok(KindCounts {
        updated: 1,
        ..KindCounts::default()
    })
}

/// Bring an imported post-mortem's sections in line with the file's list:
/// those it does not hold are removed (counted as updates), the others
/// matched by id, in the file's order.
async fn import_sections<C: ConnectionTrait>(
    db: &C,
    postmortem_id: Uuid,
    sections: Vec<SectionRecord>,
    now: DateTime<Utc>,
) -> Result<KindCounts, ServiceError> {
    let mut counts = KindCounts::default();
    let mut stored: HashMap<Uuid, postmortem_section::Model> = postmortem_section::Entity::find()
        .filter(postmortem_section::Column::PostmortemId.eq(postmortem_id))
        .all(db)
        .await?
        .into_iter()
        .map(|m| (m.id, m))
        .collect();
    // Sections the file no longer holds go first, so that their keys
    // (unique per post-mortem) are free for the ones it does hold.
    let kept: Vec<Uuid> = sections.iter().map(|s| s.id).collect();
    let gone: Vec<Uuid> = stored
        .keys()
        .filter(|id| !kept.contains(id))
        .copied()
        .collect();
    for id in gone {
        stored.remove(&id);
        postmortem_section::Entity::delete_by_id(id)
            .exec(db)
            .await?;
        counts.updated += 1;
    }
    for (position, section) in sections.into_iter().enumerate() {
        let current = stored.remove(&section.id);
        if current.is_none()
            && let Some(other) = postmortem_section::Entity::find_by_id(section.id)
                .one(db)
                .await?
        {
            return Err(ServiceError::Conflict {
                detail: format!(
                    "this id is already stored under another post-mortem ({})",
                    other.postmortem_id
                ),
                field: Some(format!("sections[{position}].id")),
                details: None,
            });
        }
        let next = postmortem_section::Model {
            id: section.id,
            postmortem_id,
            position: i32::try_from(position).unwrap_or(i32::MAX),
            key: section.key,
            title: section.title,
            body: section.body,
            visibility: section.visibility,
            created_at: current.as_ref().map_or(now, |e| e.created_at),
            updated_at: current.as_ref().map_or(now, |e| e.updated_at),
        };
        let written = store(db, current, next, |m| m.updated_at = now).await?;
        counts.count(written.outcome);
    }
    Ok(counts)
}

/// The status and `not_required_reason` a change leaves a post-mortem with.
fn apply_status(
    next: &mut postmortem::Model,
    status: Option<PostmortemStatus>,
    reason: Option<String>,
) -> Result<(), ServiceError> {
    let current: PostmortemStatus = next.status;
    let status = status.unwrap_or(current);
    if status != PostmortemStatus::NotRequired {
        if reason.is_some() {
            return Err(ServiceError::validation(
                "not_required_reason",
                format!(
                    "`not_required_reason` goes with `status` `not_required`; the post-mortem would be `{status}`"
                ),
            ));
        }
        next.status = status;
        next.not_required_reason = None;
        return Ok(());
    }
    if current == PostmortemStatus::Published {
        return Err(ServiceError::Conflict {
            detail: "the post-mortem is `published`: withdraw it (POST …/postmortem/unpublish) before marking it `not_required`".into(),
            field: Some("status".into()),
            details: None,
        });
    }
    let Some(reason) = reason.or_else(|| next.not_required_reason.clone()) else {
        return Err(ServiceError::validation(
            "not_required_reason",
            "`status` `not_required` needs `not_required_reason`: say why no post-mortem is needed",
        ));
    };
    next.status = status;
    next.not_required_reason = Some(reason);
    Ok(())
}

/// Mark the post-mortem of `incident` `not_required` when the incident was
/// resolved (else closed) before `before` (00:00 UTC of that day) and the
/// post-mortem is neither published nor already marked: the history an
/// import brings in. Returns whether it changed.
pub(crate) async fn mark_history_not_required<C: ConnectionTrait>(
    db: &C,
    incident: &incident::Model,
    before: NaiveDate,
    now: DateTime<Utc>,
) -> Result<bool, ServiceError> {
    let Some(ended) = incident.resolved_at.or(incident.closed_at) else {
        return Ok(false);
    };
    if ended >= before.and_time(chrono::NaiveTime::MIN).and_utc() {
        return Ok(false);
    }
    let Some(current) = postmortem::Entity::find()
        .filter(postmortem::Column::IncidentId.eq(incident.id))
        .one(db)
        .await?
    else {
        return Ok(false);
    };
    let status: PostmortemStatus = current.status;
    if matches!(
        status,
        PostmortemStatus::Published | PostmortemStatus::NotRequired
    ) || current.published_version > 0
    {
        return Ok(false);
    }
    let mut next = current;
    next.status = PostmortemStatus::NotRequired;
    next.not_required_reason = Some(format!("imported history: resolved before {before}"));
    next.due_on = None;
    save_next_version(db, next, now).await?;
    Ok(true)
}

fn check_sections(sections: &[SectionInput]) -> Result<(), ServiceError> {
    if sections.len() > 100 {
        return Err(ServiceError::validation(
            "sections",
            "a post-mortem has at most 100 sections",
        ));
    }
    let mut seen = std::collections::BTreeSet::new();
    for (i, s) in sections.iter().enumerate() {
        let valid_key = s.key.len() <= 64
            && s.key.starts_with(|c: char| c.is_ascii_lowercase())
            && s.key
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if !valid_key {
            return Err(ServiceError::validation(
                format!("sections[{i}].key"),
                format!(
                    "`sections[{i}].key` {:?} must be lower-case letters, digits and `_`, starting with a letter (at most 64)",
                    s.key
                ),
            ));
        }
        if !seen.insert(s.key.as_str()) {
            return Err(ServiceError::validation(
                format!("sections[{i}].key"),
                format!("`sections[{i}].key` {:?} appears twice", s.key),
            ));
        }
    }
    Ok(())
}

// ---------------------------------------------------------------- documents

/// Everything recorded about an incident that a document shows.
#[derive(Debug)]
struct Record {
    view: PostmortemView,
    roles: Vec<role_assignment::Model>,
    timeline: Vec<timeline_event::Model>,
    sitreps: Vec<sitrep::Model>,
    status_updates: Vec<status_update::Model>,
    cleanup: Vec<cleanup_item::Model>,
    remediations: Vec<remediation_item::Model>,
}

async fn load_record(ctx: &Context, reference: IncidentRef) -> Result<Record, ServiceError> {
    let view = get(ctx, reference).await?;
    let id = view.incident.id;
    let db = &ctx.db;
    let roles = super::roles::list_for(db, id).await?;
    // Streamed: the rows of a long timeline are not all held at once
    // beside their models.
    let timeline = timeline_event::Entity::find()
        .filter(timeline_event::Column::IncidentId.eq(id))
        .order_by_asc(timeline_event::Column::OccurredAt)
        .order_by_asc(timeline_event::Column::Id)
        .stream(db)
        .await?
        .try_collect()
        .await?;
    let sitreps = super::sitreps::list_for(db, id).await?;
    let status_updates = super::status_updates::list_for(db, id).await?;
    let cleanup = super::cleanup::list_for(db, id).await?;
    let remediations = remediation_item::Entity::find()
        .inner_join(remediation_incident::Entity)
        .filter(remediation_incident::Column::IncidentId.eq(id))
        .order_by_asc(remediation_item::Column::Number)
        .all(db)
        .await?;
    Ok(Record {
        view,
        roles,
        timeline,
        sitreps,
        status_updates,
        cleanup,
        remediations,
    })
}

/// Times as documents print them: in the display zone, zone written out.
#[derive(Debug, Clone, Copy)]
pub struct TimeFormat {
    zone: Tz,
}

impl TimeFormat {
    pub fn new(zone: Tz) -> Self {
        Self { zone }
    }

    pub fn time(&self, at: DateTime<Utc>) -> String {
        at.with_timezone(&self.zone)
            .format("%Y-%m-%d %H:%M %Z")
            .to_string()
    }

    pub fn zone_name(&self) -> String {
        self.zone.name().to_string()
    }
}

/// The time from one milestone to another, written as every figure is
/// ([`figures::duration`]); "not recorded" without both.
fn between(from: Option<DateTime<Utc>>, to: Option<DateTime<Utc>>) -> String {
    match (from, to) {
        (Some(a), Some(b)) => figures::duration((b - a).num_seconds()),
        _ => "not recorded".into(),
    }
}

/// A time figure as a document lists it: its label (which says what it
/// counts from) and its value.
fn time_figure(label: &str, from: Option<DateTime<Utc>>, to: Option<DateTime<Utc>>) -> Figure {
    Figure {
        label: figures::capitalised(label),
        value: between(from, to),
    }
}

/// The role a person is shown as in public documents.
fn public_role(role: &str) -> &'static str {
    match role {
        "incident_commander" => "the incident commander",
        "comms" => "the communications lead",
        "scribe" => "the scribe",
        "subject_matter_expert" => "a subject-matter expert",
        _ => "a responder",
    }
}

/// Whether `event` is one of Debrief's own notes that only records when
/// history was entered. Debrief writes its notes when it is told (an
/// incident opened, a role assigned, a sitrep issued, a status changed),
/// which for a live incident is the time they describe. An incident
/// recorded after it was resolved — back-filled through the API, or
/// brought in by an import with its own notes — gets notes dated after
/// its resolution ("Incident INC-6 opened as sev1, status resolved."):
/// they describe the data entry, not the incident, so documents leave
/// them out. The timeline API keeps them, as the record of who entered
/// what when.
fn records_only_data_entry(incident: &incident::Model, event: &timeline_event::Model) -> bool {
    event.source == EventSource::System
        && incident
            .resolved_at
            .is_some_and(|resolved| incident.created_at > resolved && event.occurred_at > resolved)
}

/// Where each piece of public text came from: (field, the text as
/// redaction left it).
type Sources = Vec<(String, String)>;

/// The document of `record` as generated at `at` (the time it prints).
fn build_document(
    ctx: &Context,
    record: &Record,
    variant: Variant,
    rules: &RedactionRules,
    sources: &mut Sources,
    at: DateTime<Utc>,
) -> Result<PostmortemDocument, ServiceError> {
    let zone = ctx
        .settings
        .display_zone()
        .map_err(|e| ServiceError::Internal(e.into()))?;
    let fmt = TimeFormat::new(zone);
    let incident = &record.view.incident;
    let pm = &record.view.postmortem;
    let public = variant == Variant::Public;
    let mut clean = |field: String, text: &str| -> String {
        if public {
            let redacted = rules.redact(text);
            sources.push((field, redacted.clone()));
            redacted
        } else {
            text.to_string()
        }
    };
    let title = clean("incident.title".into(), &incident.title);
    let affected_components = incident
        .affected_components
        .to_vec()
        .iter()
        .enumerate()
        .map(|(i, c)| clean(format!("incident.affected_components[{i}]"), c))
        .collect();
    let mut milestones = Vec::new();
    let named = [
        ("Started", incident.started_at),
        ("Detected", incident.detected_at),
        ("Acknowledged", incident.acknowledged_at),
        ("Mitigated", incident.mitigated_at),
        ("Resolved", incident.resolved_at),
        ("Closed", incident.closed_at),
    ];
    for (label, at) in named {
        if public && !matches!(label, "Started" | "Resolved") {
            continue;
        }
        if let Some(at) = at {
            milestones.push(Figure {
                label: label.into(),
                value: fmt.time(at),
            });
        }
    }
    // The time figures count as the digest's do (README, "Digest
    // figures"): from the incident's start, or from detection for the
    // time to acknowledge.
    let start = Some(stats::opened_at(incident));
    if public && incident.resolved_at.is_some() {
        milestones.push(time_figure(
            figures::TIME_TO_RESOLVE,
            start,
            incident.resolved_at,
        ));
    }
    let time_figures = vec![
        time_figure(
            figures::TIME_TO_DETECT,
            incident.started_at,
            incident.detected_at,
        ),
        time_figure(
            figures::TIME_TO_ACKNOWLEDGE,
            incident.detected_at,
            incident.acknowledged_at,
        ),
        time_figure(figures::TIME_TO_MITIGATE, start, incident.mitigated_at),
        time_figure(figures::TIME_TO_RESOLVE, start, incident.resolved_at),
    ];
    let sections = record
        .view
        .sections
        .iter()
        .filter(|s| !public || s.visibility == Visibility::Public)
        .map(|s| SectionBlock {
            key: s.key.clone(),
            title: clean(format!("sections.{}.title", s.key), &s.title),
            body: clean(format!("sections.{}.body", s.key), &s.body),
            visibility: s.visibility.as_str().into(),
        })
        .collect();
    let timeline = record
        .timeline
        .iter()
        .filter(|e| !public || e.visibility == Visibility::Public)
        .filter(|e| !records_only_data_entry(incident, e))
        .map(|e| TimelineRow {
            at: fmt.time(e.occurred_at),
            kind: figures::words(e.kind.as_str()),
            author: if public {
                String::new()
            } else {
                e.author.clone().unwrap_or_default()
            },
            body: clean(
                format!("timeline event {} ({})", e.id, fmt.time(e.occurred_at)),
                &e.body,
            ),
        })
        .collect();
    let status_updates = record
        .status_updates
        .iter()
        .map(|u| StatusUpdateRow {
            at: fmt.time(u.posted_at),
            status: figures::words(u.status.as_str()),
            message: clean(
                format!("status update {} ({})", u.id, fmt.time(u.posted_at)),
                &u.message,
            ),
        })
        .collect();
    let document = if public {
        PostmortemDocument {
            variant,
            reference: String::new(),
            title,
            severity: String::new(),
            incident_status: String::new(),
            status: String::new(),
            kind: String::new(),
            owner: None,
            due_date: None,
            review_at: None,
            customer_impact: None,
            affected_components,
            time_zone: fmt.zone_name(),
            milestones,
            figures: Vec::new(),
            roles: Vec::new(),
            timeline,
            sitreps: Vec::new(),
            status_updates,
            cleanup_items: Vec::new(),
            remediations: Vec::new(),
            sections,
            generated_at: fmt.time(at),
        }
    } else {
        PostmortemDocument {
            variant,
            reference: IncidentRef::display(incident.number),
            title,
            severity: incident.severity.as_str().into(),
            incident_status: figures::words(incident.status.as_str()),
            status: figures::words(pm.status.as_str()),
            kind: figures::words(pm.kind.as_str()),
            owner: pm.owner.clone(),
            due_date: record.view.due_date.map(|d| d.to_string()),
            review_at: pm.review_at.map(|at| fmt.time(at)),
            customer_impact: incident.customer_impact.clone(),
            affected_components,
            time_zone: fmt.zone_name(),
            milestones,
            figures: time_figures,
            roles: record
                .roles
                .iter()
                .map(|r| RoleRow {
                    role: figures::words(&r.role),
                    person: r.person.clone(),
                    assigned_at: fmt.time(r.assigned_at),
                    relieved_at: r.relieved_at.map(|at| fmt.time(at)),
                })
                .collect(),
            timeline,
            sitreps: record
                .sitreps
                .iter()
                .map(|s| SitrepRow {
                    version: s.version,
                    at: fmt.time(s.created_at),
                    author: s.author.clone().unwrap_or_default(),
                    summary: s.summary.clone(),
                })
                .collect(),
            status_updates,
            cleanup_items: record
                .cleanup
                .iter()
                .map(|c| CleanupRow {
                    kind: figures::words(c.kind.as_str()),
                    description: c.description.clone(),
                    owner: c.owner.clone().unwrap_or_default(),
                    status: match &c.reason {
                        Some(reason) if c.status == CleanupStatus::Kept => {
                            format!("kept: {reason}")
                        }
                        _ => c.status.as_str().into(),
                    },
                })
                .collect(),
            remediations: record
                .remediations
                .iter()
                .map(|r| RemediationRow {
                    reference: format!("REM-{}", r.number),
                    title: r.title.clone(),
                    kind: figures::words(r.kind.as_str()),
                    priority: r.priority.as_str().into(),
                    owner: r.owner.clone().unwrap_or_default(),
                    status: figures::words(r.status.as_str()),
                    due_date: r.due_date.map_or_else(|| "—".into(), |d| d.to_string()),
                })
                .collect(),
            sections,
            generated_at: fmt.time(at),
        }
    };
    Ok(document)
}

/// The redaction rules of an incident's public document: built-in
/// patterns, global and incident rules, and every person named in the
/// record (shown by role).
fn public_rules(
    ctx: &Context,
    record: &Record,
    stored: &[crate::entities::redaction_rule::Model],
) -> Result<RedactionRules, ServiceError> {
    let mut rules = RedactionRules::with_builtins(&ctx.settings.documents.internal_domains);
    for rule in stored {
        let origin = if rule.incident_id.is_some() {
            RuleOrigin::Incident
        } else {
            RuleOrigin::Global
        };
        match rule.kind.as_str() {
            "pattern" => rules.add_pattern(&rule.value, origin).map_err(|e| {
                ServiceError::Internal(
                    anyhow::Error::new(e).context("a stored redaction pattern does not compile"),
                )
            })?,
            _ => rules.add_term(&rule.value, origin),
        }
    }
    let mut people: BTreeMap<String, &'static str> = BTreeMap::new();
    for r in &record.roles {
        let role = public_role(&r.role);
        let entry = people.entry(r.person.clone()).or_insert(role);
        if role != "a responder" {
            *entry = role;
        }
    }
    // Event authors count as people only from sources where people write
    // (not Debrief's own `system` events), and never under a tool's name.
    let others = record
        .timeline
        .iter()
        .filter(|e| e.source != EventSource::System)
        .filter_map(|e| e.author.clone())
        .chain(record.sitreps.iter().filter_map(|s| s.author.clone()))
        .chain(record.cleanup.iter().filter_map(|c| c.owner.clone()))
        .chain(record.remediations.iter().filter_map(|r| r.owner.clone()))
        .chain(record.view.postmortem.owner.clone());
    for person in others {
        people.entry(person).or_insert("a responder");
    }
    for (person, role) in people {
        if !is_tool_name(&person) {
            rules.add_person(&person, role);
        }
    }
    Ok(rules)
}

/// Names of the tools and systems an incident record is written by: never
/// taken for a person's name, even when a tool is recorded as an author.
const TOOL_NAMES: &[&str] = &[
    "system",
    "debrief",
    "pagerduty",
    "statuspage",
    "slack",
    "slackbot",
    "opsgenie",
    "datadog",
    "grafana",
    "prometheus",
    "alertmanager",
];

fn is_tool_name(name: &str) -> bool {
    let name = name.trim().to_lowercase();
    TOOL_NAMES.contains(&name.as_str()) || name.ends_with(" bot") || name.ends_with("[bot]")
}

/// One rendered document; its bytes are shared by the requests that asked
/// for it at the same time.
#[derive(Debug, Clone)]
pub struct RenderedDocument {
    pub bytes: Bytes,
    pub format: Format,
    pub title: String,
}

/// All three formats of one variant, checked.
struct RenderedSet {
    markdown: String,
    html: String,
    pdf: Vec<u8>,
    title: String,
    summary: String,
}

fn pdf_options(ctx: &Context, document: &PostmortemDocument, at: DateTime<Utc>) -> PdfOptions {
    let title = match document.variant {
        Variant::Internal => format!("{} post-mortem: {}", document.reference, document.title),
        Variant::Public => document.title.clone(),
    };
    let mut options = PdfOptions::new(title, at);
    options.subject = match document.variant {
        Variant::Internal => "Internal post-mortem".into(),
        Variant::Public => "Post-mortem".into(),
    };
    options.paper = ctx.settings.documents.paper_size;
    options.font_dirs = ctx.settings.documents.font_dirs.clone();
    if document.variant == Variant::Internal {
        options.marking = Some("INTERNAL".into());
    }
    options
}

/// The document in `formats`, and for a public one what a reader would
/// obtain from each format (for the leak check).
fn render_set(
    ctx: &Context,
    document: PostmortemDocument,
    formats: &[Format],
    at: DateTime<Utc>,
) -> Result<(RenderedSet, BTreeMap<&'static str, String>), ServiceError> {
    let templates = Templates::load(ctx.settings.documents.templates_dir.as_deref())
        .map_err(|e| ServiceError::Internal(e.into()))?;
    let markdown = reports::markdown::render_postmortem(&templates, &document)
        .map_err(|e| ServiceError::Internal(e.into()))?;
    let options = pdf_options(ctx, &document, at);
    let summary = summary_line(
        document
            .sections
            .iter()
            .find(|s| s.key == "public_summary" || s.key == "summary")
            .map_or("", |s| s.body.as_str()),
    );
    let variant = document.variant;
    // Everything shown is in the Markdown now: the document (as large as
    // the record) goes before the layout.
    drop(document);
    let checked = variant == Variant::Public;
    let mut visible = BTreeMap::new();
    if checked {
        visible.insert("Markdown", markdown.clone());
    }
    let html = if formats.contains(&Format::Html) {
        let body = html::markdown_to_html(&markdown);
        let marking = (variant == Variant::Internal).then_some("INTERNAL");
        let page = html::page(&options.title, "en", &body, marking);
        if checked {
            let mut readable = html::visible_text(&page);
            readable.push('\n');
            readable.push_str(&html::attribute_values(&page));
            visible.insert("HTML", readable);
        }
        page
    } else {
        String::new()
    };
    let pdf = if !formats.contains(&Format::Pdf) {
        Vec::new()
    } else if checked {
        let (bytes, text) = pdf::render_pdf_with_text(&markdown, &options)
            .map_err(|e| ServiceError::Internal(e.into()))?;
        visible.insert("PDF", text);
        bytes
    } else {
        pdf::render_pdf(&markdown, &options).map_err(|e| ServiceError::Internal(e.into()))?
    };
    Ok((
        RenderedSet {
            markdown,
            html,
            pdf,
            title: options.title,
            summary,
        },
        visible,
    ))
}

/// Fail closed: refuse the document if any rule still matches what a reader
/// would obtain from it (`visible`: each format's text, link targets and
/// metadata, the index entry, the address), naming the term and the source
/// it came from.
fn leak_check(
    rules: &RedactionRules,
    visible: &BTreeMap<&'static str, String>,
    sources: &Sources,
) -> Result<(), ServiceError> {
    for (shown_in, text) in visible {
        if let Some(leak) = rules.find_leak(text) {
            return Err(leak_error(
                &leak,
                shown_in,
                leak_source(rules, &leak, sources),
            ));
        }
    }
    Ok(())
}

/// The field a leak came from: the first source in which the rule still
/// matches after redaction, as written, then with Markdown formatting
/// ignored (a term split by emphasis is joined again when rendered).
fn leak_source(rules: &RedactionRules, leak: &Leak, sources: &Sources) -> Option<String> {
    [false, true].into_iter().find_map(|ignore_formatting| {
        sources
            .iter()
            .find(|(_, text)| rules.still_leaks(leak, text, ignore_formatting))
            .map(|(field, _)| field.clone())
    })
}

fn leak_error(leak: &Leak, shown_in: &str, source: Option<String>) -> ServiceError {
    let what = match &leak.pattern {
        Some(pattern) => format!("`{}` (matched by {pattern})", leak.term),
        None if leak.shown.is_empty() || leak.shown == leak.term => format!("`{}`", leak.term),
        None => format!("`{}` (written as {:?})", leak.term, leak.shown),
    };
    let from = source
        .clone()
        .unwrap_or_else(|| "the public document template".into());
    ServiceError::validation(
        source.unwrap_or_else(|| "template".into()),
        format!(
            "the public document was refused: {what}, {}, would appear in its {shown_in}; \
             it comes from {from}. Reword it there (look-alike letters, invisible characters, \
             escapes and Markdown formatting inside a term do not hide it) or add a rule \
             that covers it",
            leak.origin.describe()
        ),
    )
}

/// The one-line summary the index and the feed show: the text of the
/// summary's Markdown (formatting dropped as a reader's eyes drop it),
/// cut at a word boundary. Computed before the leak check, which reads it.
pub fn summary_line(markdown: &str) -> String {
    use pulldown_cmark::{Event, Parser, TagEnd};
    let mut text = String::new();
    for event in Parser::new_ext(markdown, html::markdown_options()) {
        match event {
            Event::Text(t) | Event::Code(t) => text.push_str(&t),
            Event::End(
                TagEnd::Emphasis
                | TagEnd::Strong
                | TagEnd::Strikethrough
                | TagEnd::Link
                | TagEnd::Image,
            ) => {}
            Event::SoftBreak | Event::HardBreak | Event::End(_) => text.push(' '),
            Event::Html(t) | Event::InlineHtml(t) => text.push_str(&t),
            _ => {}
        }
    }
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if text.chars().count() <= 280 {
        return text;
    }
    let cut: String = text.chars().take(277).collect();
    let cut = match cut.rfind(' ') {
        Some(space) if space > 200 => &cut[..space],
        _ => cut.as_str(),
    };
    format!("{}…", cut.trim_end())
}

async fn stored_rules(
    ctx: &Context,
    incident_id: Uuid,
) -> Result<Vec<crate::entities::redaction_rule::Model>, ServiceError> {
    redactions::rules_for(&ctx.db, incident_id).await
}

/// What a post-mortem document is made from: the incident's record and its
/// redaction rules, as read.
struct DocumentInputs {
    record: Record,
    stored: Vec<crate::entities::redaction_rule::Model>,
}

impl DocumentInputs {
    async fn load(ctx: &Context, reference: IncidentRef) -> Result<Self, ServiceError> {
        let record = load_record(ctx, reference).await?;
        let stored = stored_rules(ctx, record.view.incident.id).await?;
        Ok(Self { record, stored })
    }

    /// The SHA-256 of everything the document of `variant` in `format` is
    /// made from: the record and the rules as read, the settings, and the
    /// templates as they load now. The same fingerprint makes the same
    /// document, but for the time it says it was generated.
    fn fingerprint(
        &self,
        ctx: &Context,
        variant: Variant,
        format: Format,
    ) -> Result<Fingerprint, ServiceError> {
        use std::fmt::Write as _;
        /// Text written straight into the hash: the debug form of a large
        /// record is never held whole.
        struct Hashing(Sha256);
        impl std::fmt::Write for Hashing {
            fn write_str(&mut self, s: &str) -> std::fmt::Result {
                self.0.update(s.as_bytes());
                Ok(())
            }
        }
        let templates = Templates::load(ctx.settings.documents.templates_dir.as_deref())
            .map_err(|e| ServiceError::Internal(e.into()))?;
        let mut hash = Hashing(Sha256::new());
        // Every field of every value, in its debug form (which the entities
        // and settings derive); secrets print as a mask and change nothing
        // a document shows.
        write!(
            hash,
            "{variant:?}\n{format:?}\n{:?}\n{:?}\n{:?}\n",
            self.record, self.stored, ctx.settings
        )
        .expect("hashing cannot fail");
        for (name, _) in reports::EMBEDDED_TEMPLATES {
            write!(hash, "{name}\n{:?}\n", templates.source(name)).expect("hashing cannot fail");
        }
        Ok(hash.0.finalize().into())
    }
}

/// Render one document of an incident's post-mortem.
///
/// Identical requests share a render (see [`render_queue`]): each request
/// reads what its document is made from and takes its fingerprint
/// ([`DocumentInputs::fingerprint`]); a render of that fingerprint not done
/// when the request arrived answers it too. Any change to the record, the
/// redaction rules, the settings or the templates, and the other variant or
/// format, make another fingerprint, hence a render of its own.
pub async fn render(
    ctx: &Context,
    reference: IncidentRef,
    variant: Variant,
    format: Format,
) -> Result<RenderedDocument, ServiceError> {
    // A place in the queue first (a full queue refuses at once), then a
    // turn to read: a record is read by as many requests at once as there
    // are renders.
    let ticket = ctx.renders.enter()?;
    let arrival = ctx.renders.documents.arrive();
    let lookup = ctx.renders.look_up().await;
    let inputs = DocumentInputs::load(ctx, reference).await?;
    let key = inputs.fingerprint(ctx, variant, format)?;
    let number = inputs.record.view.incident.number;
    let incident = IncidentRef::Id(inputs.record.view.incident.id);
    let leader = ctx.clone();
    let flight = ctx
        .renders
        .documents
        .run(arrival, key, move || async move {
            render_in_turn(leader, ticket, lookup, inputs, incident, variant, format)
                .await
                .map_err(Arc::new)
        })
        .await;
    let (outcome, shared) = flight.ok_or_else(|| {
        ServiceError::Internal(anyhow::anyhow!(
            "the render of the {} {} of {} stopped",
            variant.as_str(),
            format.extension(),
            IncidentRef::display(number)
        ))
    })?;
    let outcome_label = if shared { "shared" } else { "rendered" };
    ctx.metrics
        .documents
        .with_label_values(&[outcome_label])
        .inc();
    outcome.map_err(|err| render_queue::replay(&err))
}

/// The render of a document no other request is rendering: a turn, then
/// the render. With a turn free now, what was read is rendered; else its
/// memory is given back while waiting, and the record is read again when
/// the turn comes, so what is rendered is at least as new as what every
/// request sharing it read.
async fn render_in_turn(
    ctx: Context,
    ticket: RenderTicket,
    lookup: OwnedSemaphorePermit,
    inputs: DocumentInputs,
    incident: IncidentRef,
    variant: Variant,
    format: Format,
) -> Result<RenderedDocument, ServiceError> {
    let (turn, inputs) = match ticket.try_turn() {
        Ok(turn) => {
            drop(lookup);
            (turn, inputs)
        }
        Err(ticket) => {
            drop((inputs, lookup));
            let turn = ticket.turn().await;
            (turn, DocumentInputs::load(&ctx, incident).await?)
        }
    };
    tokio::task::spawn_blocking(move || {
        let _turn = turn;
        render_blocking(&ctx, inputs, variant, format)
    })
    .await
    .map_err(|e| ServiceError::Internal(e.into()))?
}

fn render_blocking(
    ctx: &Context,
    inputs: DocumentInputs,
    variant: Variant,
    format: Format,
) -> Result<RenderedDocument, ServiceError> {
    let at = ctx.now();
    let DocumentInputs { record, stored } = inputs;
    let (document, rules, sources) = document_of(ctx, &record, &stored, variant, at)?;
    // The document holds all it shows: the record goes before the layout.
    drop((record, stored));
    let set = checked_set(ctx, document, &rules, &sources, &[format], at)?;
    let bytes = match format {
        Format::Markdown => set.markdown.into_bytes(),
        Format::Html => set.html.into_bytes(),
        Format::Pdf => set.pdf,
    };
    Ok(RenderedDocument {
        bytes: Bytes::from(bytes),
        format,
        title: set.title,
    })
}

/// The document of `variant` in `formats`, generated at `at`; a public one
/// is rendered in every format and passes the leak check, or is refused.
fn render_checked(
    ctx: &Context,
    record: &Record,
    stored: &[crate::entities::redaction_rule::Model],
    variant: Variant,
    formats: &[Format],
    at: DateTime<Utc>,
) -> Result<RenderedSet, ServiceError> {
    let (document, rules, sources) = document_of(ctx, record, stored, variant, at)?;
    checked_set(ctx, document, &rules, &sources, formats, at)
}

/// The document of `variant` made from the record, with the redaction
/// rules it was made with and the redacted text of each field (for the
/// leak check).
fn document_of(
    ctx: &Context,
    record: &Record,
    stored: &[crate::entities::redaction_rule::Model],
    variant: Variant,
    at: DateTime<Utc>,
) -> Result<(PostmortemDocument, RedactionRules, Sources), ServiceError> {
    let rules = match variant {
        Variant::Public => public_rules(ctx, record, stored)?,
        Variant::Internal => RedactionRules::default(),
    };
    let mut sources = Vec::new();
    let document = build_document(ctx, record, variant, &rules, &mut sources, at)?;
    Ok((document, rules, sources))
}

/// [`render_set`], checked: a public document is rendered in every format
/// and passes the leak check, or is refused.
fn checked_set(
    ctx: &Context,
    document: PostmortemDocument,
    rules: &RedactionRules,
    sources: &Sources,
    formats: &[Format],
    at: DateTime<Utc>,
) -> Result<RenderedSet, ServiceError> {
    let variant = document.variant;
    // Fail closed: a public document is checked in every format, whichever
    // one was asked for.
    let all = [Format::Markdown, Format::Html, Format::Pdf];
    let formats = if variant == Variant::Public {
        &all[..]
    } else {
        formats
    };
    let (set, mut visible) = render_set(ctx, document, formats, at)?;
    if variant == Variant::Public {
        // What the index and the feed will show of it.
        visible.insert("index entry", format!("{}\n{}", set.title, set.summary));
        leak_check(rules, &visible, sources)?;
    }
    Ok(set)
}

/// A stored snapshot, as listed after publishing.
#[derive(Debug, Clone)]
pub struct PublishedDocument {
    pub variant: Variant,
    pub format: Format,
    pub sha256: String,
    pub size: i64,
}

/// The result of publishing.
#[derive(Debug, Clone)]
pub struct Publication {
    pub publication: postmortem_publication::Model,
    pub documents: Vec<PublishedDocument>,
    /// Nothing was stored: the documents are those of the latest
    /// publication, which this is.
    pub unchanged: bool,
}

/// The six documents in the order they are stored and listed.
const DOCUMENTS: [(Variant, Format); 6] = [
    (Variant::Internal, Format::Markdown),
    (Variant::Internal, Format::Html),
    (Variant::Internal, Format::Pdf),
    (Variant::Public, Format::Markdown),
    (Variant::Public, Format::Html),
    (Variant::Public, Format::Pdf),
];

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// What the rendering step of [`publish`] found.
enum Rendered {
    /// The documents and the address are those of the latest publication.
    Unchanged,
    /// New documents, generated at the publication's time.
    New(Box<NewDocuments>),
}

/// The six documents of a new publication and where it goes.
struct NewDocuments {
    internal: RenderedSet,
    public: RenderedSet,
    slug: SlugChoice,
}

/// Publish: render all six documents (the public ones pass the leak check
/// or nothing is stored), store them as an immutable snapshot with their
/// SHA-256 under the next version, and mark the post-mortem `published`.
///
/// Publishing again with nothing changed stores nothing: when a live (not
/// withdrawn) publication exists, the documents are first rendered as they
/// would have been at its time (the "generated" time and the PDF's dates
/// are the only parts that follow the clock), and if all six have the
/// SHA-256 of its snapshots and the address stays, that publication is the
/// answer (`unchanged`). The documents always show the post-mortem as
/// `published`, the status it has once they are public.
pub async fn publish(ctx: &Context, reference: IncidentRef) -> Result<Publication, ServiceError> {
    let turn = ctx.renders.admit().await?;
    let mut record = load_record(ctx, reference).await?;
    let status: PostmortemStatus = record.view.postmortem.status;
    let refused = match status {
        PostmortemStatus::Draft => Some(
            "the post-mortem is a `draft`: move it to `in_review` (PUT …/postmortem) before publishing",
        ),
        PostmortemStatus::NotRequired => Some(
            "the post-mortem is `not_required`: set its `status` back to `draft` or `in_review` (PUT …/postmortem) before publishing",
        ),
        PostmortemStatus::InReview | PostmortemStatus::Published => None,
    };
    if let Some(detail) = refused {
        return Err(ServiceError::Conflict {
            detail: detail.into(),
            field: Some("status".into()),
            details: None,
        });
    }
    record.view.postmortem.status = PostmortemStatus::Published;
    let latest = live_publication(ctx, &record.view.postmortem).await?;
    let stored = stored_rules(ctx, record.view.incident.id).await?;
    let blocking_ctx = ctx.clone();
    let record_version = record.view.postmortem.version;
    let postmortem_id = record.view.postmortem.id;
    // One time for the documents and the publication record alike.
    let now = ctx.now();
    let previous = latest.clone();
    let rendered = tokio::task::spawn_blocking(move || {
        let ctx = &blocking_ctx;
        if let Some(previous) = &previous
            && unchanged_since(ctx, &record, &stored, previous)?
        {
            return Ok::<_, ServiceError>(Rendered::Unchanged);
        }
        let all = [Format::Markdown, Format::Html, Format::Pdf];
        let public = render_checked(ctx, &record, &stored, Variant::Public, &all, now)?;
        let internal = render_checked(ctx, &record, &stored, Variant::Internal, &all, now)?;
        let rules = public_rules(ctx, &record, &stored)?;
        let slug = choose_slug(
            &rules,
            record.view.postmortem.slug.as_deref(),
            &public.title,
        )?;
        Ok(Rendered::New(Box::new(NewDocuments {
            internal,
            public,
            slug,
        })))
    })
    .await
    .map_err(|e| ServiceError::Internal(e.into()))??;
    drop(turn);

    let txn = ctx.begin_write().await?;
    let current = postmortem::Entity::find_by_id(postmortem_id)
        .one(&txn)
        .await?
        .ok_or_else(|| ServiceError::NotFound("post-mortem".into()))?;
    if current.version != record_version {
        return Err(ServiceError::conflict(
            "the post-mortem changed while it was being rendered; publish again",
        ));
    }
    let (internal, public, slugs) = match rendered {
        Rendered::New(new) => {
            let NewDocuments {
                internal,
                public,
                slug,
            } = *new;
            (internal, public, slug)
        }
        Rendered::Unchanged => {
            let Some(publication) = latest else {
                return Err(ServiceError::Internal(anyhow::anyhow!(
                    "an unchanged publication without a previous one"
                )));
            };
            // Moved back to `in_review` with nothing changed: what is public
            // is current again.
            if current.status != PostmortemStatus::Published {
                let mut next = current;
                next.status = PostmortemStatus::Published;
                save_next_version(&txn, next, now).await?;
            }
            txn.commit().await?;
            return Ok(publication);
        }
    };
    let version = current.published_version + 1;
    let slug = match slugs {
        SlugChoice::Keep(slug) => slug,
        SlugChoice::New(base) => unique_slug(&txn, postmortem_id, &base).await?,
    };
    let publication = postmortem_publication::Model {
        id: new_id(),
        postmortem_id,
        version,
        slug: slug.clone(),
        title: public.title.clone(),
        summary: public.summary.clone(),
        published_at: now,
    };
    insert_model(&txn, publication.clone().into_active_model()).await?;
    let mut documents = Vec::new();
    for (variant, set) in [(Variant::Internal, internal), (Variant::Public, public)] {
        for (format, bytes) in [
            (Format::Markdown, set.markdown.into_bytes()),
            (Format::Html, set.html.into_bytes()),
            (Format::Pdf, set.pdf),
        ] {
            let sha256 = sha256_hex(&bytes);
            let size = bytes.len() as i64;
            insert_model(
                &txn,
                postmortem_snapshot::Model {
                    id: new_id(),
                    publication_id: publication.id,
                    variant: variant.as_str().into(),
                    format: format.extension().into(),
                    content: bytes,
                    sha256: sha256.clone(),
                    size,
                }
                .into_active_model(),
            )
            .await?;
            documents.push(PublishedDocument {
                variant,
                format,
                sha256,
                size,
            });
        }
    }
    let mut next = current;
    next.status = PostmortemStatus::Published;
    next.slug = Some(slug);
    next.published_version = version;
    next.published_at = Some(now);
    next.first_published_at = next.first_published_at.or(Some(now));
    next.withdrawn_at = None;
    save_next_version(&txn, next, now).await?;
    txn.commit().await?;
    Ok(Publication {
        publication,
        documents,
        unchanged: false,
    })
}

/// The latest publication with its documents (not their bytes), unless
/// there is none or it was withdrawn.
async fn live_publication(
    ctx: &Context,
    postmortem: &postmortem::Model,
) -> Result<Option<Publication>, ServiceError> {
    use sea_orm::QuerySelect;
    if postmortem.published_version == 0 || postmortem.withdrawn_at.is_some() {
        return Ok(None);
    }
    let Some(publication) = postmortem_publication::Entity::find()
        .filter(postmortem_publication::Column::PostmortemId.eq(postmortem.id))
        .filter(postmortem_publication::Column::Version.eq(postmortem.published_version))
        .one(&ctx.db)
        .await?
    else {
        return Ok(None);
    };
    let rows: Vec<(String, String, String, i64)> = postmortem_snapshot::Entity::find()
        .select_only()
        .columns([
            postmortem_snapshot::Column::Variant,
            postmortem_snapshot::Column::Format,
            postmortem_snapshot::Column::Sha256,
            postmortem_snapshot::Column::Size,
        ])
        .filter(postmortem_snapshot::Column::PublicationId.eq(publication.id))
        .into_tuple()
        .all(&ctx.db)
        .await?;
    let documents = DOCUMENTS
        .iter()
        .filter_map(|&(variant, format)| {
            let (_, _, sha256, size) = rows
                .iter()
                .find(|(v, f, _, _)| v == variant.as_str() && f == format.extension())?;
            Some(PublishedDocument {
                variant,
                format,
                sha256: sha256.clone(),
                size: *size,
            })
        })
        .collect();
    Ok(Some(Publication {
        publication,
        documents,
        unchanged: true,
    }))
}

/// Whether publishing `record` now would store what `previous` holds: the
/// six documents, rendered as at `previous`'s time, have its SHA-256s (the
/// public ones passing today's leak check), and the address stays. The
/// Markdown is compared first: it is cheap, and it differs whenever the
/// record does.
fn unchanged_since(
    ctx: &Context,
    record: &Record,
    stored: &[crate::entities::redaction_rule::Model],
    previous: &Publication,
) -> Result<bool, ServiceError> {
    if previous.documents.len() != DOCUMENTS.len() {
        return Ok(false);
    }
    let at = previous.publication.published_at;
    let stored_sha = |variant: Variant, format: Format| {
        previous
            .documents
            .iter()
            .find(|d| d.variant == variant && d.format == format)
            .map(|d| d.sha256.as_str())
    };
    for variant in [Variant::Internal, Variant::Public] {
        let rules = match variant {
            Variant::Public => public_rules(ctx, record, stored)?,
            Variant::Internal => RedactionRules::default(),
        };
        let document = build_document(ctx, record, variant, &rules, &mut Vec::new(), at)?;
        let (set, _) = render_set(ctx, document, &[Format::Markdown], at)?;
        if stored_sha(variant, Format::Markdown)
            != Some(sha256_hex(set.markdown.as_bytes()).as_str())
        {
            return Ok(false);
        }
    }
    let all = [Format::Markdown, Format::Html, Format::Pdf];
    for variant in [Variant::Internal, Variant::Public] {
        let set = render_checked(ctx, record, stored, variant, &all, at)?;
        for (format, bytes) in [
            (Format::Html, set.html.as_bytes()),
            (Format::Pdf, set.pdf.as_slice()),
        ] {
            if stored_sha(variant, format) != Some(sha256_hex(bytes).as_str()) {
                return Ok(false);
            }
        }
        if variant == Variant::Public {
            let rules = public_rules(ctx, record, stored)?;
            let slug = choose_slug(&rules, record.view.postmortem.slug.as_deref(), &set.title)?;
            if !matches!(slug, SlugChoice::Keep(ref kept) if *kept == previous.publication.slug) {
                return Ok(false);
            }
        }
    }
    Ok(true)
}

/// A published post-mortem as the public pages list it.
#[derive(Debug, Clone)]
pub struct PublicEntry {
    pub postmortem_id: Uuid,
    pub slug: String,
    pub title: String,
    pub summary: String,
    pub version: i32,
    pub published_at: DateTime<Utc>,
    /// When the first version was published.
    pub first_published_at: DateTime<Utc>,
}

/// The latest publication of every published post-mortem, newest first.
pub async fn published(ctx: &Context, limit: u64) -> Result<Vec<PublicEntry>, ServiceError> {
    use sea_orm::QuerySelect;
    let postmortems = postmortem::Entity::find()
        .filter(postmortem::Column::PublishedVersion.gt(0))
        .filter(postmortem::Column::WithdrawnAt.is_null())
        .order_by_desc(postmortem::Column::PublishedAt)
        .order_by_desc(postmortem::Column::Id)
        .limit(limit)
        .all(&ctx.db)
        .await?;
    if postmortems.is_empty() {
        return Ok(Vec::new());
    }
    let publications = postmortems
        .load_many(
            postmortem_publication::Entity::find()
                .order_by_asc(postmortem_publication::Column::Version),
            &ctx.db,
        )
        .await?;
    let mut entries = Vec::with_capacity(postmortems.len());
    for (pm, mine) in postmortems.into_iter().zip(publications) {
        let (Some(first), Some(latest)) = (
            mine.first(),
            mine.iter().find(|p| p.version == pm.published_version),
        ) else {
            continue;
        };
        entries.push(PublicEntry {
            postmortem_id: pm.id,
            slug: latest.slug.clone(),
            title: latest.title.clone(),
            summary: latest.summary.clone(),
            version: latest.version,
            published_at: latest.published_at,
            first_published_at: first.published_at,
        });
    }
    Ok(entries)
}

/// What a public address leads to.
#[derive(Debug)]
pub enum PublicPage {
    /// A stored public document of the latest publication.
    Found(PublishedFile),
    /// A post-mortem was published here, and was withdrawn or moved.
    Gone,
}

/// A stored public document, with the dates a reader is shown.
#[derive(Debug)]
pub struct PublishedFile {
    pub content: Vec<u8>,
    pub title: String,
    pub version: i32,
    /// When this version was published.
    pub published_at: DateTime<Utc>,
    /// When the first version was published.
    pub first_published_at: DateTime<Utc>,
}

/// The public document (`Html` or `Pdf`) under `slug`: of the latest
/// publication of the post-mortem that has this address now,
/// [`PublicPage::Gone`] for an address a post-mortem has left (withdrawn,
/// or moved because a redaction rule came to match it), not found
/// otherwise.
pub async fn public_page(
    ctx: &Context,
    slug: &str,
    format: Format,
) -> Result<PublicPage, ServiceError> {
    let not_found = || ServiceError::NotFound(format!("published post-mortem {slug:?}"));
    let live = postmortem::Entity::find()
        .filter(postmortem::Column::Slug.eq(slug))
        .filter(postmortem::Column::PublishedVersion.gt(0))
        .filter(postmortem::Column::WithdrawnAt.is_null())
        .one(&ctx.db)
        .await?;
    let Some(pm) = live else {
        let left = postmortem_publication::Entity::find()
            .filter(postmortem_publication::Column::Slug.eq(slug))
            .one(&ctx.db)
            .await?;
        return match left {
            Some(_) => Ok(PublicPage::Gone),
            None => Err(not_found()),
        };
    };
    let publication = postmortem_publication::Entity::find()
        .filter(postmortem_publication::Column::PostmortemId.eq(pm.id))
        .filter(postmortem_publication::Column::Version.eq(pm.published_version))
        .one(&ctx.db)
        .await?
        .ok_or_else(not_found)?;
    let snapshot = postmortem_snapshot::Entity::find()
        .filter(postmortem_snapshot::Column::PublicationId.eq(publication.id))
        .filter(postmortem_snapshot::Column::Variant.eq(Variant::Public.as_str()))
        .filter(postmortem_snapshot::Column::Format.eq(format.extension()))
        .one(&ctx.db)
        .await?
        .ok_or_else(not_found)?;
    Ok(PublicPage::Found(PublishedFile {
        content: snapshot.content,
        title: publication.title,
        version: publication.version,
        published_at: publication.published_at,
        first_published_at: pm.first_published_at.unwrap_or(publication.published_at),
    }))
}

/// Withdraw a publication: its page answers `410 Gone` and it leaves the
/// index and the feed. The snapshots stay (the internal record of what was
/// published); the post-mortem goes back to `in_review`, and publishing
/// again brings it back (at the same address unless a rule now matches it).
pub async fn unpublish(
    ctx: &Context,
    reference: IncidentRef,
) -> Result<PostmortemView, ServiceError> {
    use sea_orm::QuerySelect;
    let incident = find_incident(&ctx.db, reference).await?;
    let txn = ctx.begin_write().await?;
    let current = postmortem::Entity::find()
        .filter(postmortem::Column::IncidentId.eq(incident.id))
        .lock_exclusive()
        .one(&txn)
        .await?
        .ok_or_else(|| ServiceError::NotFound("post-mortem".into()))?;
    if current.published_version == 0 || current.withdrawn_at.is_some() {
        return Err(ServiceError::Conflict {
            detail: "the post-mortem is not published: there is nothing to withdraw".into(),
            field: Some("status".into()),
            details: None,
        });
    }
    let now = ctx.now();
    let mut next = current;
    next.withdrawn_at = Some(now);
    next.status = PostmortemStatus::InReview;
    save_next_version(&txn, next, now).await?;
    txn.commit().await?;
    get(ctx, reference).await
}

/// Store a changed post-mortem row as its next version.
async fn save_next_version<C: ConnectionTrait>(
    db: &C,
    mut next: postmortem::Model,
    now: DateTime<Utc>,
) -> Result<(), ServiceError> {
    next.version += 1;
    next.updated_at = now;
    postmortem::Entity::update(next.into_active_model().reset_all())
        .exec(db)
        .await?;
    Ok(())
}

/// The address a publication goes to.
#[derive(Debug)]
enum SlugChoice {
    /// The address it has: no rule matches it.
    Keep(String),
    /// A new address from the public title (made unique when stored).
    New(String),
}

/// Keep the current slug unless a redaction rule matches it now; a new
/// slug comes from the public (redacted) title and must pass the same check.
fn choose_slug(
    rules: &RedactionRules,
    current: Option<&str>,
    public_title: &str,
) -> Result<SlugChoice, ServiceError> {
    let leak = |slug: &str| {
        rules
            .find_leak(slug)
            .or_else(|| rules.find_leak(&slug.replace('-', " ")))
    };
    if let Some(current) = current
        && leak(current).is_none()
    {
        return Ok(SlugChoice::Keep(current.to_string()));
    }
    let fresh = slugify(public_title);
    if let Some(found) = leak(&fresh) {
        return Err(leak_error(&found, "address", Some("incident.title".into())));
    }
    Ok(SlugChoice::New(fresh))
}

/// `base`, or `base-2`, `base-3` … : the first that no other post-mortem
/// has or had (an address once published is never given to another).
async fn unique_slug<C: ConnectionTrait>(
    db: &C,
    postmortem_id: Uuid,
    base: &str,
) -> Result<String, ServiceError> {
    for n in 1..=1000 {
        let candidate = if n == 1 {
            base.to_string()
        } else {
            format!("{base}-{n}")
        };
        let held = postmortem::Entity::find()
            .filter(postmortem::Column::Slug.eq(candidate.as_str()))
            .filter(postmortem::Column::Id.ne(postmortem_id))
            .one(db)
            .await?
            .is_some();
        let had = postmortem_publication::Entity::find()
            .filter(postmortem_publication::Column::Slug.eq(candidate.as_str()))
            .filter(postmortem_publication::Column::PostmortemId.ne(postmortem_id))
            .one(db)
            .await?
            .is_some();
        if !held && !had {
            return Ok(candidate);
        }
    }
    Err(ServiceError::conflict(format!(
        "more than a thousand post-mortems have the address {base:?}: give this one another title"
    )))
}

/// Longest slug, in bytes; it is cut at a word boundary.
const SLUG_MAX: usize = 60;

/// `checkout-failing-for-eu-customers`, from the public title: accents
/// dropped, other characters as word breaks, cut at a word boundary. No
/// incident number: the address says nothing the public page does not.
pub fn slugify(title: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    let mut words = String::new();
    let mut last_dash = true;
    for c in title.nfkd().flat_map(char::to_lowercase) {
        if c.is_ascii_alphanumeric() {
            words.push(c);
            last_dash = false;
        } else if unicode_normalization::char::is_combining_mark(c) {
            continue;
        } else if !last_dash {
            words.push('-');
            last_dash = true;
        }
    }
    let mut slug = words.trim_matches('-').to_string();
    if slug.len() > SLUG_MAX {
        let cut = match slug[..=SLUG_MAX].rfind('-') {
            Some(dash) if dash > 0 => dash,
            _ => SLUG_MAX,
        };
        slug.truncate(cut);
    }
    if slug.is_empty() {
        "post-mortem".into()
    } else {
        slug
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn due_dates_count_calendar_or_business_days() {
        // 2026-11-20 is a Friday.
        assert_eq!(
            due_after(day("2026-11-20"), DuePeriod::Days(3)),
            Some(day("2026-11-23"))
        );
        assert_eq!(
            due_after(day("2026-11-20"), DuePeriod::BusinessDays(5)),
            Some(day("2026-11-27"))
        );
        assert_eq!(
            due_after(day("2026-11-21"), DuePeriod::BusinessDays(1)),
            Some(day("2026-11-23")),
            "from a Saturday, one business day is Monday"
        );
        assert_eq!(
            due_after(day("2026-11-18"), DuePeriod::BusinessDays(10)),
            Some(day("2026-12-02"))
        );
        assert_eq!(due_after(day("2026-11-18"), DuePeriod::None), None);
    }

    #[test]
    fn slugs_are_readable_and_safe() {
        assert_eq!(
            slugify("Checkout failing for EU customers!"),
            "checkout-failing-for-eu-customers"
        );
        assert_eq!(slugify("Ünïcode ✓"), "unicode");
        assert_eq!(slugify("数据库"), "post-mortem");
        // Cut at the last whole word within the limit.
        assert_eq!(
            slugify(&"replication lag ".repeat(10)),
            "replication-lag-replication-lag-replication-lag-replication"
        );
    }
}
