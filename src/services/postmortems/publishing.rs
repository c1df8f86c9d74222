//! Publishing: immutable snapshots of the rendered documents, withdrawing
//! a publication, and the slugs of public pages.

use super::*;

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
    check_publishable(record.view.postmortem.status)?;
    record.view.postmortem.status = PostmortemStatus::Published;
    let latest = live_publication(ctx, &record.view.postmortem).await?;
    let stored = stored_rules(ctx, record.view.incident.id).await?;
    let record_version = record.view.postmortem.version;
    let postmortem_id = record.view.postmortem.id;
    // One time for the documents and the publication record alike.
    let now = ctx.now();
    let rendered = render_for_publication(ctx, record, stored, latest.clone(), now).await?;
    drop(turn);

    let txn = ctx.begin_write().await?;
    let current = still_at_version(&txn, postmortem_id, record_version).await?;
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
    let documents = store_snapshots(&txn, publication.id, internal, public).await?;
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

/// The post-mortem as it is now, refused if it changed since its `version`
/// was read for rendering.
async fn still_at_version<C: ConnectionTrait>(
    txn: &C,
    postmortem_id: Uuid,
    version: i32,
) -> Result<postmortem::Model, ServiceError> {
    let current = postmortem::Entity::find_by_id(postmortem_id)
        .one(txn)
        .await?
        .ok_or_else(|| ServiceError::NotFound("post-mortem".into()))?;
    if current.version != version {
        return Err(ServiceError::conflict(
            "the post-mortem changed while it was being rendered; publish again",
        ));
    }
    Ok(current)
}

/// Only a post-mortem `in_review` (or already `published`) is published.
fn check_publishable(status: PostmortemStatus) -> Result<(), ServiceError> {
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
    Ok(())
}

/// All six documents rendered and checked and the address chosen, off the
/// async threads; or `Unchanged` if nothing changed since `previous`.
async fn render_for_publication(
    ctx: &Context,
    record: Record,
    stored: Vec<crate::entities::redaction_rule::Model>,
    previous: Option<Publication>,
    now: DateTime<Utc>,
) -> Result<Rendered, ServiceError> {
    let blocking_ctx = ctx.clone();
    tokio::task::spawn_blocking(move || {
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
    .map_err(|e| ServiceError::Internal(e.into()))?
}

/// The publication's six documents stored as snapshots, as listed after
/// publishing.
async fn store_snapshots<C: ConnectionTrait>(
    txn: &C,
    publication_id: Uuid,
    internal: RenderedSet,
    public: RenderedSet,
) -> Result<Vec<PublishedDocument>, ServiceError> {
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
                txn,
                postmortem_snapshot::Model {
                    id: new_id(),
                    publication_id,
                    variant,
                    format,
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
    Ok(documents)
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
    let rows: Vec<(Variant, Format, String, i64)> = postmortem_snapshot::Entity::find()
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
                .find(|(v, f, _, _)| *v == variant && *f == format)?;
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
pub(super) async fn save_next_version<C: ConnectionTrait>(
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
