//! `/public/postmortems`: published public post-mortems, their index page
//! and an Atom feed, served without authentication. Only what publishing
//! stored (and checked) is ever served here.

use chrono::{DateTime, Utc};
use minijinja::Value;
use poem::{
    IntoResponse, Request, Response, handler,
    http::{StatusCode, header},
    web::{Data, Path},
};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::{
    api::problem::Problem,
    reports::Format,
    reports::{
        Templates,
        html::{STYLESHEET, escape},
    },
    services::{
        Context, ServiceError,
        postmortems::{self, PublicPage, PublishedFile},
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

/// The organisation around the public pages (`documents.organisation`,
/// `documents.logo`): configuration, never user text.
struct Site {
    organisation: Option<String>,
    /// The logo as a `data:` URI (public pages load nothing from elsewhere).
    logo: Option<String>,
}

impl Site {
    fn of(ctx: &Context) -> Self {
        let documents = &ctx.settings.documents;
        let logo = documents.logo.as_deref().and_then(logo_uri);
        Self {
            organisation: documents.organisation.clone(),
            logo,
        }
    }

    /// The band at the top of a public page: logo, organisation, a link to
    /// the index (relative: the pages may be served under a prefix).
    fn header(&self, index_href: &str) -> String {
        let logo = self
            .logo
            .as_deref()
            .map(|uri| format!("<img src=\"{}\" alt=\"\" class=\"logo\">", escape(uri)))
            .unwrap_or_default();
        let name = self
            .organisation
            .as_deref()
            .map(|name| format!("<span class=\"organisation\">{}</span>", escape(name)))
            .unwrap_or_default();
        format!(
            "<style>{SITE_STYLE}</style>\n<header class=\"site\">{logo}{name}\
             <a class=\"back\" href=\"{index_href}\">All post-mortems</a></header>\n"
        )
    }
}

/// The logo file as a `data:` URI, read once per process (a new logo file
/// is shown after a restart).
fn logo_uri(path: &std::path::Path) -> Option<String> {
    use std::{
        collections::HashMap,
        path::PathBuf,
        sync::{LazyLock, Mutex},
    };
    static READ: LazyLock<Mutex<HashMap<PathBuf, Option<String>>>> =
        LazyLock::new(Default::default);
    let mut read = READ
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    read.entry(path.to_path_buf())
        .or_insert_with(|| {
            let mime = crate::config::logo_media_type(path)?;
            match std::fs::read(path) {
                Ok(bytes) => Some(format!(
                    "data:{mime};base64,{}",
                    base64::Engine::encode(&base64::engine::general_purpose::STANDARD, bytes)
                )),
                Err(err) => {
                    tracing::warn!(path = %path.display(), error = %err, "the logo cannot be read");
                    None
                }
            }
        })
        .clone()
}

/// The look of the band at the top of public pages (the documents' own
/// stylesheet is inside each stored page).
const SITE_STYLE: &str = "header.site{display:flex;align-items:center;gap:.75rem;flex-wrap:wrap;\
max-width:52rem;margin:0 auto;padding:1rem 1.5rem 0;font-size:.95rem}\
header.site .logo{height:2rem;width:auto}header.site .organisation{font-weight:600}\
header.site .back{margin-left:auto}footer.site{max-width:52rem;margin:0 auto;\
padding:0 1.5rem 3rem;color:#5f6673;font-size:.9rem}";

/// A date as the public pages show it: `20 November 2026`.
fn day(ctx: &Context, at: DateTime<Utc>) -> String {
    let zone = ctx.settings.display_zone().unwrap_or(chrono_tz::UTC);
    at.with_timezone(&zone).format("%-d %B %Y").to_string()
}

/// A stored public page inside the site: the band at the top, and at the
/// bottom the publication dates and the PDF of the same version. The
/// stored document itself is not changed.
fn framed(ctx: &Context, stored: &str, file: &PublishedFile) -> String {
    let site = Site::of(ctx);
    let published = day(ctx, file.first_published_at);
    let updated = if file.version > 1 {
        format!(
            " · updated {} (version {})",
            day(ctx, file.published_at),
            file.version
        )
    } else {
        String::new()
    };
    let footer = format!(
        "<footer class=\"site\"><p>Published {published}{updated} · \
         <a href=\"?format=pdf\">Download the PDF</a></p></footer>\n"
    );
    let mut html = stored.to_string();
    if let Some(at) = html.find("<body>\n") {
        html.insert_str(at + "<body>\n".len(), &site.header("../postmortems"));
    }
    if let Some(at) = html.rfind("</body>") {
        html.insert_str(at, &footer);
    }
    html
}

/// Whether the client is a browser (it asks for HTML): error answers are
/// then pages, otherwise problem+json.
fn wants_html(req: &Request) -> bool {
    req.headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.contains("text/html"))
}

/// A 404 or 410 for a browser or for a program.
fn not_here(ctx: &Context, req: &Request, status: StatusCode, detail: &str) -> Response {
    if !wants_html(req) {
        return Problem::new(status, detail).into_response();
    }
    let title = if status == StatusCode::GONE {
        "This post-mortem is no longer here"
    } else {
        "No post-mortem here"
    };
    let mut sentence = detail.chars();
    let sentence: String = sentence
        .next()
        .map(|first| first.to_uppercase().chain(sentence).collect())
        .unwrap_or_default();
    let body = format!(
        "<h1>{title}</h1>\n<p>{}.</p>\n<p><a href=\"/public/postmortems\">See all post-mortems</a>.</p>\n",
        escape(&sentence)
    );
    let mut html = crate::reports::html::page(title, "en", &body, None);
    if let Some(at) = html.find("<body>\n") {
        html.insert_str(
            at + "<body>\n".len(),
            &Site::of(ctx).header("/public/postmortems"),
        );
    }
    Response::builder()
        .status(status)
        .content_type("text/html; charset=utf-8")
        .body(html)
}

/// `ETag` and `Last-Modified` on a listing; `304` when the client has it.
fn cached(
    req: &Request,
    body: String,
    content_type: &str,
    modified: Option<DateTime<Utc>>,
) -> Response {
    let tag = format!(
        "\"{}\"",
        &hex::encode(Sha256::digest(body.as_bytes()))[..32]
    );
    let http_date = |at: DateTime<Utc>| at.format("%a, %d %b %Y %H:%M:%S GMT").to_string();
    let fresh = match req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
    {
        Some(tags) => tags
            .split(',')
            .any(|t| t.trim().trim_start_matches("W/") == tag || t.trim() == "*"),
        None => match (
            modified,
            req.headers()
                .get(header::IF_MODIFIED_SINCE)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| DateTime::parse_from_rfc2822(v).ok()),
        ) {
            (Some(modified), Some(since)) => modified.timestamp() <= since.timestamp(),
            _ => false,
        },
    };
    let mut builder = Response::builder().header(header::ETAG, tag.as_str());
    if let Some(modified) = modified {
        builder = builder.header(header::LAST_MODIFIED, http_date(modified));
    }
    if fresh {
        return builder.status(StatusCode::NOT_MODIFIED).finish();
    }
    builder.content_type(content_type).body(body)
}

/// The entries as publishing stored and checked them: title and summary
/// line are shown exactly as they were checked (only escaped).
/// With the time of the latest publication among them (`Last-Modified`).
async fn entries(
    ctx: &Context,
    base: &str,
) -> Result<(Vec<IndexEntry>, Option<DateTime<Utc>>), ServiceError> {
    let published = postmortems::published(ctx, LISTED).await?;
    let modified = published.iter().map(|e| e.published_at).max();
    let entries = published
        .into_iter()
        .map(|e| IndexEntry {
            href: escaped(&format!("/public/postmortems/{}", e.slug)),
            url: escaped(&format!("{base}/public/postmortems/{}", e.slug)),
            id: escaped(&format!("urn:uuid:{}", e.postmortem_id)),
            title: escaped(&e.title),
            summary: escaped(&e.summary),
            version: e.version,
            published: day(ctx, e.published_at),
            first_published: e.first_published_at.to_rfc3339(),
            updated: e.published_at.to_rfc3339(),
        })
        .collect();
    Ok((entries, modified))
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
pub async fn index(req: &Request, Data(ctx): Data<&Context>) -> Response {
    let result = async {
        let base = base_url(ctx);
        let (entries, modified) = entries(ctx, &base).await?;
        let site = Site::of(ctx);
        let body = templates(ctx)?
            .render(
                "public_index.html.j2",
                minijinja::context! {
                    entries => entries,
                    stylesheet => Value::from_safe_string(STYLESHEET.to_string()),
                    feed_url => "/public/postmortems/feed.atom",
                    organisation => site.organisation.as_deref().map(escaped),
                    logo => site.logo.as_deref().map(escaped),
                },
            )
            .map_err(|e| ServiceError::Internal(e.into()))?;
        Ok::<_, ServiceError>((body, modified))
    }
    .await;
    match result {
        Ok((body, modified)) => cached(req, body, "text/html; charset=utf-8", modified),
        Err(err) => problem(err),
    }
}

/// `GET /public/postmortems/feed.atom`: the Atom feed.
#[handler]
pub async fn feed(req: &Request, Data(ctx): Data<&Context>) -> Response {
    let result = async {
        let base = base_url(ctx);
        let (entries, modified) = entries(ctx, &base).await?;
        let updated = entries
            .iter()
            .map(|e| e.updated.clone())
            .max()
            .unwrap_or_else(|| chrono::DateTime::<chrono::Utc>::UNIX_EPOCH.to_rfc3339());
        let body = templates(ctx)?
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
            .map_err(|e| ServiceError::Internal(e.into()))?;
        Ok::<_, ServiceError>((body, modified))
    }
    .await;
    match result {
        Ok((body, modified)) => cached(req, body, "application/atom+xml; charset=utf-8", modified),
        Err(err) => problem(err),
    }
}

/// `GET /public/postmortems/{slug}`: the published public post-mortem, in
/// the site's frame; `?format=pdf` for its PDF. A browser that asks for a
/// page that is not (or no longer) here gets a page; a program a problem.
#[handler]
pub async fn page(req: &Request, Path(slug): Path<String>, Data(ctx): Data<&Context>) -> Response {
    let valid = !slug.is_empty()
        && slug.len() <= 200
        && slug
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    let missing = "no published post-mortem has this address";
    if !valid {
        return not_here(ctx, req, StatusCode::NOT_FOUND, missing);
    }
    let format = match req.uri().query().unwrap_or_default() {
        "" => Format::Html,
        "format=pdf" => Format::Pdf,
        _ => {
            return Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "the only query this page takes is `format=pdf`",
            )
            .with_field(Some("format".into()))
            .into_response();
        }
    };
    match postmortems::public_page(ctx, &slug, format).await {
        Ok(PublicPage::Found(file)) if format == Format::Pdf => Response::builder()
            .content_type("application/pdf")
            .header(
                header::CONTENT_DISPOSITION,
                format!("inline; filename=\"{slug}.pdf\""),
            )
            .body(file.content),
        Ok(PublicPage::Found(file)) => {
            let stored = String::from_utf8_lossy(&file.content).into_owned();
            Response::builder()
                .content_type("text/html; charset=utf-8")
                .body(framed(ctx, &stored, &file))
        }
        Ok(PublicPage::Gone) => not_here(
            ctx,
            req,
            StatusCode::GONE,
            "this post-mortem was published here and has been withdrawn or moved",
        ),
        Err(ServiceError::NotFound(_)) => not_here(ctx, req, StatusCode::NOT_FOUND, missing),
        Err(err) => problem(err),
    }
}
