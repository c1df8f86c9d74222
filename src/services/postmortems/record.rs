//! The record: a post-mortem and its ordered sections, created with the
//! incident, read, and written (changes, imports, status).

use super::*;

fn view(
    ctx: &Context,
    incident: incident::Model,
    postmortem: postmortem::Model,
    sections: Vec<postmortem_section::Model>,
    factors: Vec<contributing_factor::Model>,
) -> PostmortemView {
    // `not_required`: no due date in force, so never overdue.
    let due_date = due_in_force(&postmortem, &incident, &ctx.settings.postmortem_due);
    let overdue = postmortem.status != PostmortemStatus::Published
        && due_date.is_some_and(|due| due < ctx.now().date_naive());
    PostmortemView {
        postmortem,
        incident,
        sections,
        factors: factor_views(&ctx.settings.factors, factors),
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
    let factors = factors_of(&ctx.db, postmortem.id).await?;
    Ok(view(ctx, incident, postmortem, sections, factors))
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
    /// given replace the whole list, and so do contributing factors (of
    /// `taxonomy`, or already named).
    Change {
        if_match: Option<&'a str>,
        changes: PostmortemChanges,
        taxonomy: &'a FactorSettings,
    },
    /// Brought in by an import with its own id, publication history and
    /// sections (the whole ordered list: sections it does not hold are
    /// removed), each matched by id and updated when it differs, and its
    /// contributing factors when it has the list (any well-formed id).
    Import(PostmortemRecord),
}

/// What a post-mortem write did: to the post-mortem, and to its sections
/// (counted one by one for an import; a changed list is one update for
/// the API, which replaces it whole).
#[derive(Debug, Clone)]
pub struct PostmortemWritten {
    pub postmortem: Written<postmortem::Model>,
    pub sections: KindCounts,
    /// The list of contributing factors changed.
    pub factors_changed: bool,
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
    let change = PostmortemWrite::Change {
        if_match,
        changes,
        taxonomy: &ctx.settings.factors,
    };
    let next = write(&txn, &incident, change, periods, now)
        .await?
        .postmortem
        .model;
    let sections = sections_of(&txn, next.id).await?;
    let factors = factors_of(&txn, next.id).await?;
    txn.commit().await?;
    Ok(view(ctx, incident, next, sections, factors))
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
        PostmortemWrite::Change {
            if_match,
            changes,
            taxonomy,
        } => write_change(db, incident, if_match, taxonomy, changes, periods, now).await,
        PostmortemWrite::Import(pm) => write_import(db, incident, pm, periods, now).await,
    }
}

/// [`PostmortemWrite::Change`]: the changes checked and applied to the
/// current post-mortem, stored with the next version if anything changed.
async fn write_change<C: ConnectionTrait>(
    db: &C,
    incident: &incident::Model,
    if_match: Option<&str>,
    taxonomy: &FactorSettings,
    changes: PostmortemChanges,
    periods: &PostmortemDue,
    now: DateTime<Utc>,
) -> Result<PostmortemWritten, ServiceError> {
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
    let mut factors_changed = false;
    if let Some(inputs) = changes.contributing_factors {
        let check = FactorCheck::Taxonomy(taxonomy);
        factors_changed = replace_factors(db, &current, &inputs, check, now).await?;
    }
    let outcome = if next != current || sections.updated > 0 || factors_changed {
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
        factors_changed,
    })
}

/// [`PostmortemWrite::Import`]: the imported post-mortem stored under its
/// own id (refused if the incident has another one), with its sections.
async fn write_import<C: ConnectionTrait>(
    db: &C,
    incident: &incident::Model,
    pm: PostmortemRecord,
    periods: &PostmortemDue,
    now: DateTime<Utc>,
) -> Result<PostmortemWritten, ServiceError> {
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
    let mut postmortem = store(db, stored, next, |m| {
        m.version += 1;
        m.updated_at = now;
    })
    .await?;
    let sections = import_sections(db, pm.id, pm.sections, now).await?;
    let mut factors_changed = false;
    if let Some(records) = pm.contributing_factors {
        let inputs: Vec<FactorInput> = records
            .into_iter()
            .map(|f| FactorInput {
                factor: f.factor,
                note: f.note,
            })
            .collect();
        let model = &postmortem.model;
        factors_changed = replace_factors(db, model, &inputs, FactorCheck::AnyId, now).await?;
    }
    // New factors change what the post-mortem says: a new version, as a
    // change through the API makes.
    if factors_changed && postmortem.outcome == Outcome::Unchanged {
        save_next_version(db, postmortem.model.clone(), now).await?;
        postmortem.model.version += 1;
        postmortem.model.updated_at = now;
        postmortem.outcome = Outcome::Updated;
    }
    Ok(PostmortemWritten {
        postmortem,
        sections,
        factors_changed,
    })
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
    if let Some(factors) = &changes.contributing_factors {
        check_factor_list("contributing_factors", factors)?;
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
