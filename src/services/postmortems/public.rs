//! Public pages: the published post-mortems as the public index lists them,
//! and one published page with its files.

use super::*;

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
        .filter(postmortem_snapshot::Column::Variant.eq(Variant::Public))
        .filter(postmortem_snapshot::Column::Format.eq(format))
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
