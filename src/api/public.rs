//! `/public/postmortems`: published public post-mortems, their index page
//! and an Atom feed, served without authentication. Only what publishing
//! stored (and checked) is ever served here.

use minijinja::Value;
use poem::{
    IntoResponse, Response, handler,
    http::StatusCode,
    web::{Data, Path},
};
use serde::Serialize;

use crate::{
    error::{Problem, ServiceError},
    reports::{
        Templates,
        html::{STYLESHEET, escape},
    },
    services::{
        Context,
        postmortems::{self, PublicPage},
    },
};

/// How many post-mortems the index and the feed show.
const LISTED: u64 = 200;

/// A published post-mortem as the index and the feed show it. Every text is
/// escaped here, with the same escaping as the documents (minijinja's own
/// would also escape `/`, which spoils URLs for a human reader).
#[derive(Serialize)]
struct IndexEntry {
    title: Value,
    href: Value,
    url: Value,
    /// The entry's Atom id: the post-mortem's, stable when its address moves.
    id: Value,
    summary: Value,
    version: i32,
    published: String,
    first_published: String,
    updated: String,
}

fn escaped(text: &str) -> Value {
    Value::from_safe_string(escape(text))
}

/// The absolute base of the public pages, when `public_base_url` is set.
/// Without it links are relative: a `Host` header chosen by a client never
/// makes its way into a page or the feed.
fn base_url(ctx: &Context) -> String {
    ctx.settings
        .documents
        .public_base_url
        .as_deref()
        .map(|base| base.trim_end_matches('/').to_string())
        .unwrap_or_default()
}

/// The entries as publishing stored and checked them: title and summary
/// line are shown exactly as they were checked (only escaped).
async fn entries(ctx: &Context, base: &str) -> Result<Vec<IndexEntry>, ServiceError> {
    Ok(postmortems::published(ctx, LISTED)
        .await?
        .into_iter()
        .map(|e| IndexEntry {
            href: escaped(&format!("/public/postmortems/{}", e.slug)),
            url: escaped(&format!("{base}/public/postmortems/{}", e.slug)),
            id: escaped(&format!("urn:uuid:{}", e.postmortem_id)),
            title: escaped(&e.title),
            summary: escaped(&e.summary),
            version: e.version,
            published: e.published_at.format("%Y-%m-%d").to_string(),
            first_published: e.first_published_at.to_rfc3339(),
            updated: e.published_at.to_rfc3339(),
        })
        .collect())
}

fn templates(ctx: &Context) -> Result<Templates, ServiceError> {
    Templates::load(ctx.settings.documents.templates_dir.as_deref())
        .map_err(|e| ServiceError::Internal(e.into()))
}

fn problem(err: ServiceError) -> Response {
    Problem::from(err).into_poem_response()
}

/// `GET /public/postmortems`: the index page.
#[handler]
pub async fn index(Data(ctx): Data<&Context>) -> Response {
    let result = async {
        let base = base_url(ctx);
        let entries = entries(ctx, &base).await?;
        templates(ctx)?
            .render(
                "public_index.html.j2",
                minijinja::context! {
                    entries => entries,
                    stylesheet => Value::from_safe_string(STYLESHEET.to_string()),
                    feed_url => "/public/postmortems/feed.atom",
                },
            )
            .map_err(|e| ServiceError::Internal(e.into()))
    }
    .await;
    match result {
        Ok(body) => Response::builder()
            .content_type("text/html; charset=utf-8")
            .body(body),
        Err(err) => problem(err),
    }
}

/// `GET /public/postmortems/feed.atom`: the Atom feed.
#[handler]
pub async fn feed(Data(ctx): Data<&Context>) -> Response {
    let result = async {
        let base = base_url(ctx);
        let entries = entries(ctx, &base).await?;
        let updated = entries
            .iter()
            .map(|e| e.updated.clone())
            .max()
            .unwrap_or_else(|| chrono::DateTime::<chrono::Utc>::UNIX_EPOCH.to_rfc3339());
        templates(ctx)?
            .render(
                "feed.atom.j2",
                minijinja::context! {
                    entries => entries,
                    updated => updated,
                    index_url => escaped(&format!("{base}/public/postmortems")),
                    feed_url => escaped(&format!("{base}/public/postmortems/feed.atom")),
                    feed_id => escaped(&match ctx.settings.documents.public_base_url {
                        Some(_) => format!("{base}/public/postmortems"),
                        None => "urn:debrief:public-postmortems".to_string(),
                    }),
                },
            )
            .map_err(|e| ServiceError::Internal(e.into()))
    }
    .await;
    match result {
        Ok(feed) => Response::builder()
            .content_type("application/atom+xml; charset=utf-8")
            .body(feed),
        Err(err) => problem(err),
    }
}

/// `GET /public/postmortems/{slug}`: the published public post-mortem.
#[handler]
pub async fn page(Path(slug): Path<String>, Data(ctx): Data<&Context>) -> Response {
    let valid = !slug.is_empty()
        && slug.len() <= 200
        && slug
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !valid {
        return Problem::new(
            StatusCode::NOT_FOUND,
            "no published post-mortem has this address",
        )
        .into_response();
    }
    match postmortems::public_page(ctx, &slug).await {
        Ok(PublicPage::Page(html)) => Response::builder()
            .content_type("text/html; charset=utf-8")
            .body(html),
        Ok(PublicPage::Gone) => Problem::new(
            StatusCode::GONE,
            "this post-mortem was published here and has been withdrawn or moved",
        )
        .into_response(),
        Err(err) => problem(err),
    }
}
