//! `/incidents/{reference}/postmortem`: the post-mortem resource, its
//! documents (internal and public, Markdown, HTML and PDF) and publishing.

use chrono::{DateTime, Utc};
use poem::{IntoResponse, Response, web::Data};
use poem_openapi::{
    ApiResponse, Object, OpenApi,
    param::{Header, Path},
    payload::Json,
    registry::{MetaMediaType, MetaResponse, MetaResponses, MetaSchema, MetaSchemaRef, Registry},
    types::MaybeUndefined,
};
use serde::Deserialize;
use uuid::Uuid;

use super::{ApiJson, ApiTags, TokenAuth, incidents::etag, params::IncidentParam, text::Date};
use crate::{
    api::problem::ApiResult,
    config::FactorSettings,
    domain::{
        FactorNote, FactorSlug, IncidentRef, NotRequiredReason, PostmortemKind, PostmortemStatus,
        Scope, SectionBody, SectionTitle, ShortText, Text, Visibility, text::present,
    },
    reports::{Format, Variant},
    services::{
        Context, ServiceError,
        postmortems::{
            self, FactorInput, FactorView, GENERATED_SECTIONS, PostmortemChanges, PostmortemView,
            Publication, SectionInput,
        },
    },
};

/// One section of a post-mortem.
#[derive(Debug, Clone, Object)]
pub struct PostmortemSection {
    /// Stable key, e.g. `root_cause`.
    pub key: String,
    /// Heading printed in the documents.
    pub title: String,
    /// Markdown text.
    pub body: String,
    /// `public` sections also appear in the public post-mortem.
    pub visibility: Visibility,
    /// Debrief fills this section from the record (`timeline` from the
    /// timeline, `action_items` from the linked remediation items); its
    /// body, if any, is printed above the generated part.
    pub generated: bool,
}

/// A contributing factor a post-mortem names.
#[derive(Debug, Clone, Object)]
pub struct ContributingFactor {
    /// The factor's id in the taxonomy (`factors.taxonomy`), e.g.
    /// `change_deploy`.
    pub factor: String,
    /// Its label in the taxonomy; the id itself when `retired`.
    pub label: String,
    /// What the post-mortem says about it (Markdown, may be empty).
    pub note: String,
    /// The taxonomy no longer lists the factor: it stays on this
    /// post-mortem (and may be sent back in a PUT) but cannot be newly
    /// attached.
    pub retired: bool,
}

impl From<FactorView> for ContributingFactor {
    fn from(f: FactorView) -> Self {
        Self {
            factor: f.row.factor.to_string(),
            label: f.label,
            note: f.row.note,
            retired: f.retired,
        }
    }
}

/// An incident's post-mortem.
#[derive(Debug, Clone, Object)]
pub struct Postmortem {
    /// Unique id.
    pub id: Uuid,
    /// The incident's id.
    pub incident_id: Uuid,
    /// The incident's reference, e.g. `INC-42`.
    pub incident_ref: String,
    /// `ops_review` (a short discussion at the weekly review) or `dedicated`.
    pub kind: PostmortemKind,
    /// Who writes it.
    #[oai(nullable)]
    pub owner: Option<String>,
    /// `draft` → `in_review` → `published`, or `not_required`.
    pub status: PostmortemStatus,
    /// Why no post-mortem is needed; set exactly when `status` is
    /// `not_required`.
    #[oai(nullable)]
    pub not_required_reason: Option<String>,
    /// When it is due: `due_date_source` says whether it was set or comes
    /// from the incident's severity (see the `postmortem_due` settings).
    /// `null` while `not_required`.
    #[oai(nullable)]
    pub due_date: Option<Date>,
    /// `set` (given in a PUT), `severity` (from the configured period),
    /// `none` (the severity has no due period) or `not_required` (never
    /// due; a date set earlier applies again when it goes back to `draft`
    /// or `in_review`).
    pub due_date_source: String,
    /// Not published and past its due date.
    pub overdue: bool,
    /// When the review meeting takes place.
    #[oai(nullable)]
    pub review_at: Option<DateTime<Utc>>,
    /// The sections, in document order.
    pub sections: Vec<PostmortemSection>,
    /// The contributing factors it names, in its order (see
    /// `GET /contributing-factors` for the taxonomy).
    pub contributing_factors: Vec<ContributingFactor>,
    /// The latest published version (0: never published).
    pub published_version: i32,
    /// When it was last published.
    #[oai(nullable)]
    pub published_at: Option<DateTime<Utc>>,
    /// When it was first published (the digest's "published" figure).
    #[oai(nullable)]
    pub first_published_at: Option<DateTime<Utc>>,
    /// Where the public post-mortem is served: `/public/postmortems/{slug}`.
    /// Made from the public title when first published; it moves (the old
    /// address answering 410) only if a redaction rule comes to match it.
    #[oai(nullable)]
    pub slug: Option<String>,
    /// When the publication was withdrawn (`POST …/postmortem/unpublish`);
    /// `null` while public or never published.
    #[oai(nullable)]
    pub withdrawn_at: Option<DateTime<Utc>>,
    /// Version for optimistic concurrency (`If-Match`).
    pub version: i32,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

impl From<PostmortemView> for Postmortem {
    fn from(v: PostmortemView) -> Self {
        let p = v.postmortem;
        let due_date_source = if p.status == PostmortemStatus::NotRequired {
            "not_required"
        } else if p.due_date.is_some() {
            "set"
        } else if v.due_date.is_some() {
            "severity"
        } else {
            "none"
        };
        Self {
            id: p.id,
            incident_id: p.incident_id,
            incident_ref: IncidentRef::display(v.incident.number),
            kind: p.kind,
            owner: p.owner,
            status: p.status,
            not_required_reason: p.not_required_reason,
            due_date: v.due_date.map(Date),
            due_date_source: due_date_source.into(),
            overdue: v.overdue,
            review_at: p.review_at,
            sections: v
                .sections
                .into_iter()
                .map(|s| PostmortemSection {
                    generated: GENERATED_SECTIONS.contains(&s.key.as_str()),
                    visibility: s.visibility,
                    key: s.key,
                    title: s.title,
                    body: s.body,
                })
                .collect(),
            contributing_factors: v.factors.into_iter().map(Into::into).collect(),
            published_version: p.published_version,
            published_at: p.published_at,
            first_published_at: p.first_published_at,
            slug: p.slug,
            withdrawn_at: p.withdrawn_at,
            version: p.version,
            created_at: p.created_at,
            updated_at: p.updated_at,
        }
    }
}

/// A section as written in a PUT.
#[derive(Debug, Clone, Object, Deserialize)]
pub struct PostmortemSectionInput {
    /// Stable key: lower-case letters, digits and `_`, starting with a
    /// letter; unique in the post-mortem.
    #[oai(validator(pattern = "^[a-z][a-z0-9_]{0,63}$"))]
    pub key: String,
    /// Heading printed in the documents.
    pub title: SectionTitle,
    /// Markdown text (may be empty).
    #[serde(default)]
    #[oai(default)]
    pub body: SectionBody,
    /// `internal` (default) or `public`.
    #[serde(default = "internal")]
    #[oai(default = "internal")]
    pub visibility: Visibility,
}

fn internal() -> Visibility {
    Visibility::Internal
}

/// A contributing factor as written in a PUT.
#[derive(Debug, Clone, Object, Deserialize)]
pub struct ContributingFactorInput {
    /// The factor's id: one of the taxonomy's (`GET
    /// /contributing-factors`), or a retired one the post-mortem already
    /// names. Anything else is refused (422) with the list of ids allowed.
    #[oai(validator(max_length = 64))]
    pub factor: String,
    /// What the post-mortem says about it (Markdown, may be empty).
    #[serde(default)]
    #[oai(default)]
    pub note: FactorNote,
}

/// Changes to a post-mortem; absent fields stay as they are.
#[derive(Debug, Clone, Object, Deserialize)]
pub struct UpdatePostmortemRequest {
    /// `ops_review` or `dedicated`.
    pub kind: Option<PostmortemKind>,
    /// Who writes it; `null` clears it.
    #[serde(default)]
    #[oai(nullable)]
    pub owner: MaybeUndefined<ShortText>,
    /// `draft`, `in_review` or `not_required` (`published` is reached by
    /// publishing). `not_required` needs `not_required_reason` and is
    /// refused (409) for a `published` post-mortem: withdraw it first.
    /// `draft` or `in_review` takes a `not_required` one back.
    pub status: Option<PostmortemStatus>,
    /// Why no post-mortem is needed (with `status` `not_required`, or to
    /// change the reason of one that is).
    pub not_required_reason: Option<NotRequiredReason>,
    /// Due date; `null` goes back to the date from the severity.
    #[serde(default)]
    #[oai(nullable)]
    pub due_date: MaybeUndefined<Date>,
    /// Review meeting time; `null` clears it.
    #[serde(default)]
    #[oai(nullable)]
    pub review_at: MaybeUndefined<DateTime<Utc>>,
    /// The whole ordered list of sections: it replaces the current list.
    #[oai(validator(max_items = 100))]
    pub sections: Option<Vec<PostmortemSectionInput>>,
    /// The whole ordered list of contributing factors, each named once: it
    /// replaces the current list (`[]` removes them all).
    #[oai(validator(max_items = 50))]
    pub contributing_factors: Option<Vec<ContributingFactorInput>>,
}

crate::serde_json_body!(UpdatePostmortemRequest);

/// One stored document of a publication.
#[derive(Debug, Clone, Object)]
pub struct PublishedDocument {
    /// `internal` or `public`.
    pub variant: String,
    /// `md`, `html` or `pdf`.
    pub format: String,
    /// SHA-256 of the stored bytes, hex.
    pub sha256: String,
    /// Size in bytes.
    pub size: i64,
}

/// What publishing stored.
#[derive(Debug, Clone, Object)]
pub struct PostmortemPublication {
    /// The version: 1 for the first publication, then 2, 3 …
    pub version: i32,
    /// When it was published.
    pub published_at: DateTime<Utc>,
    /// Where the public post-mortem is served: `/public/postmortems/{slug}`.
    pub slug: String,
    /// The public title.
    pub title: String,
    /// The six stored documents with their checksums.
    pub documents: Vec<PublishedDocument>,
}

impl From<Publication> for PostmortemPublication {
    fn from(p: Publication) -> Self {
        Self {
            version: p.publication.version,
            published_at: p.publication.published_at,
            slug: p.publication.slug,
            title: p.publication.title,
            documents: p
                .documents
                .into_iter()
                .map(|d| PublishedDocument {
                    variant: d.variant.as_str().into(),
                    format: d.format.extension().into(),
                    sha256: d.sha256,
                    size: d.size,
                })
                .collect(),
        }
    }
}

#[derive(ApiResponse)]
pub enum PostmortemFound {
    /// The post-mortem.
    #[oai(status = 200)]
    Ok(
        Json<Postmortem>,
        /// The post-mortem's version, for `If-Match`.
        #[oai(header = "ETag")]
        String,
    ),
}

/// A factor of the taxonomy.
#[derive(Debug, Clone, Object)]
pub struct TaxonomyFactor {
    /// Stable id, as a post-mortem names it: `change_deploy`.
    pub id: String,
    /// What people read: `Change / deploy`.
    pub label: String,
}

/// The taxonomy of contributing factors.
#[derive(Debug, Clone, Object)]
pub struct FactorTaxonomy {
    /// The factors, in the order documents, statistics and the digest list
    /// them.
    pub factors: Vec<TaxonomyFactor>,
}

#[derive(ApiResponse)]
pub enum TaxonomyFound {
    /// The configured taxonomy.
    #[oai(status = 200)]
    Ok(Json<FactorTaxonomy>),
}

#[derive(ApiResponse)]
pub enum PostmortemPublished {
    /// Every document was rendered, checked and stored as a new version.
    #[oai(status = 201)]
    Created(Json<PostmortemPublication>),
    /// Nothing changed since the latest publication (same six documents,
    /// same address): it is the answer, and nothing was stored.
    #[oai(status = 200)]
    Unchanged(Json<PostmortemPublication>),
}

/// A rendered document, in the content type of its format.
pub struct DocumentDownload {
    bytes: bytes::Bytes,
    format: Format,
    filename: String,
}

impl IntoResponse for DocumentDownload {
    fn into_response(self) -> Response {
        Response::builder()
            .content_type(self.format.content_type())
            .header(
                "Content-Disposition",
                format!("inline; filename=\"{}\"", self.filename),
            )
            .body(self.bytes)
    }
}

impl ApiResponse for DocumentDownload {
    fn meta() -> MetaResponses {
        let binary =
            || MetaSchemaRef::Inline(Box::new(MetaSchema::new_with_format("string", "binary")));
        let text = || MetaSchemaRef::Inline(Box::new(MetaSchema::new("string")));
        MetaResponses {
            responses: vec![MetaResponse {
                description: "The document: `text/markdown` for `.md`, `text/html` for `.html`, `application/pdf` for `.pdf`.",
                status: Some(200),
                status_range: None,
                content: vec![
                    MetaMediaType {
                        content_type: "text/markdown; charset=utf-8",
                        schema: text(),
                    },
                    MetaMediaType {
                        content_type: "text/html; charset=utf-8",
                        schema: text(),
                    },
                    MetaMediaType {
                        content_type: "application/pdf",
                        schema: binary(),
                    },
                ],
                headers: vec![],
            }],
        }
    }

    fn register(_registry: &mut Registry) {}
}

/// `internal.pdf` → (internal, pdf).
fn parse_document(document: &str) -> Result<(Variant, Format), ServiceError> {
    let bad = || {
        ServiceError::validation(
            "document",
            format!(
                "`{document}` is not one of internal.md, internal.html, internal.pdf, public.md, public.html, public.pdf"
            ),
        )
    };
    let (variant, ext) = document.split_once('.').ok_or_else(bad)?;
    let variant = match variant {
        "internal" => Variant::Internal,
        "public" => Variant::Public,
        _ => return Err(bad()),
    };
    let format = Format::from_extension(ext).ok_or_else(bad)?;
    Ok((variant, format))
}

pub struct PostmortemsApi;

#[OpenApi(tag = "ApiTags::Postmortems")]
impl PostmortemsApi {
    /// Get the post-mortem
    ///
    /// Every incident has one post-mortem: the first request creates it as a
    /// `dedicated` `draft` with the default sections. Its due date comes
    /// from the incident's severity unless one was set.
    #[oai(
        path = "/incidents/:reference/postmortem",
        method = "get",
        operation_id = "get_postmortem"
    )]
    async fn get_postmortem(
        &self,
        auth: TokenAuth,
        Data(ctx): Data<&Context>,
        /// The incident's UUID or `INC-n` reference.
        reference: Path<IncidentParam>,
    ) -> ApiResult<PostmortemFound> {
        auth.require(Scope::Read)?;
        let view = postmortems::get(ctx, reference.get("reference")?).await?;
        Ok(found(view.into()))
    }

    /// List the contributing factors
    ///
    /// The taxonomy a post-mortem's `contributing_factors` come from
    /// (`factors.taxonomy` in the configuration), in its order. A factor
    /// removed from it stays on the post-mortems that name it, as retired.
    #[oai(
        path = "/contributing-factors",
        method = "get",
        operation_id = "list_contributing_factors"
    )]
    async fn list_contributing_factors(
        &self,
        auth: TokenAuth,
        Data(ctx): Data<&Context>,
    ) -> ApiResult<TaxonomyFound> {
        auth.require(Scope::Read)?;
        let factors = ctx
            .settings
            .factors
            .taxonomy
            .iter()
            .map(|f| TaxonomyFactor {
                id: f.id.clone(),
                label: f.label.clone(),
            })
            .collect();
        Ok(TaxonomyFound::Ok(Json(FactorTaxonomy { factors })))
    }

    /// Change the post-mortem
    ///
    /// Absent fields stay as they are; `sections` and
    /// `contributing_factors`, when given, are the whole ordered lists. `status` moves between `draft` and `in_review`;
    /// `published` is reached by publishing. `If-Match` guards against lost
    /// updates (412 when stale).
    #[oai(
        path = "/incidents/:reference/postmortem",
        method = "put",
        operation_id = "update_postmortem"
    )]
    async fn update_postmortem(
        &self,
        auth: TokenAuth,
        Data(ctx): Data<&Context>,
        /// The incident's UUID or `INC-n` reference.
        reference: Path<IncidentParam>,
        /// The version (ETag) the change is based on.
        #[oai(
            name = "If-Match",
            validator(
                pattern = "^\\s*(\\*|(W/)?\"?[0-9]{1,9}\"?(\\s*,\\s*(W/)?\"?[0-9]{1,9}\"?)*)\\s*$"
            )
        )]
        if_match: Header<Option<String>>,
        body: ApiJson<UpdatePostmortemRequest>,
    ) -> ApiResult<PostmortemFound> {
        auth.require(Scope::Write)?;
        let r = body.0;
        let owner: Option<Option<ShortText>> = r.owner.into();
        let sections = r.sections.map(|list| {
            list.into_iter()
                .map(|s| SectionInput {
                    title: s.title.into_inner(),
                    body: s.body.non_blank().unwrap_or_default(),
                    key: s.key,
                    visibility: s.visibility,
                })
                .collect()
        });
        let contributing_factors = r
            .contributing_factors
            .map(|list| factor_inputs(&ctx.settings.factors, list))
            .transpose()?;
        let changes = PostmortemChanges {
            kind: r.kind,
            owner: owner.map(present),
            due_date: Option::<Option<Date>>::from(r.due_date).map(|d| d.map(|d| d.0)),
            review_at: r.review_at.into(),
            status: r.status,
            not_required_reason: r.not_required_reason.map(NotRequiredReason::into_inner),
            sections,
            contributing_factors,
        };
        let view = postmortems::update(
            ctx,
            reference.get("reference")?,
            if_match.0.as_deref(),
            changes,
        )
        .await?;
        Ok(found(view.into()))
    }

    /// Publish the post-mortem
    ///
    /// Renders the internal and public documents in Markdown, HTML and PDF,
    /// and stores them as an immutable snapshot with their SHA-256 under the
    /// next version (201). If the documents are those of the latest
    /// publication — the same SHA-256 for all six when rendered as at its
    /// time, and the same address — nothing is stored and that publication
    /// is returned with 200. The post-mortem must be `in_review` (or already
    /// `published`): 409 for a `draft` or `not_required` one. If a redaction
    /// term or pattern would survive in any public format, nothing is
    /// stored and the answer is 422 naming the term and where it came from.
    /// The public HTML is then served at `/public/postmortems/{slug}`.
    #[oai(
        path = "/incidents/:reference/postmortem/publish",
        method = "post",
        operation_id = "publish_postmortem"
    )]
    async fn publish_postmortem(
        &self,
        auth: TokenAuth,
        Data(ctx): Data<&Context>,
        /// The incident's UUID or `INC-n` reference.
        reference: Path<IncidentParam>,
    ) -> ApiResult<PostmortemPublished> {
        auth.require(Scope::Write)?;
        let publication = postmortems::publish(ctx, reference.get("reference")?).await?;
        Ok(if publication.unchanged {
            PostmortemPublished::Unchanged(Json(publication.into()))
        } else {
            PostmortemPublished::Created(Json(publication.into()))
        })
    }

    /// Withdraw the publication
    ///
    /// Takes the public post-mortem down: its page answers 410 Gone and it
    /// leaves the public index and the feed. The stored snapshots stay; the
    /// post-mortem goes back to `in_review`, and publishing again brings it
    /// back. 409 when it is not published.
    #[oai(
        path = "/incidents/:reference/postmortem/unpublish",
        method = "post",
        operation_id = "unpublish_postmortem"
    )]
    async fn unpublish_postmortem(
        &self,
        auth: TokenAuth,
        Data(ctx): Data<&Context>,
        /// The incident's UUID or `INC-n` reference.
        reference: Path<IncidentParam>,
    ) -> ApiResult<PostmortemFound> {
        auth.require(Scope::Write)?;
        let view = postmortems::unpublish(ctx, reference.get("reference")?).await?;
        Ok(found(view.into()))
    }

    /// Render a post-mortem document
    ///
    /// `internal.md`, `internal.html`, `internal.pdf`, `public.md`,
    /// `public.html` or `public.pdf`, rendered from the current record. The
    /// internal document has everything; the public one only public
    /// sections, public timeline events and status updates, with people
    /// shown by role and the redaction rules applied. A public document in
    /// which a redaction term or pattern would survive is refused with 422
    /// naming the term and where it came from.
    #[oai(
        path = "/incidents/:reference/postmortem/:document",
        method = "get",
        operation_id = "render_postmortem"
    )]
    async fn render_postmortem(
        &self,
        auth: TokenAuth,
        Data(ctx): Data<&Context>,
        /// The incident's UUID or `INC-n` reference.
        reference: Path<IncidentParam>,
        /// Which document: `{internal|public}.{md|html|pdf}`.
        #[oai(validator(pattern = "^(internal|public)\\.(md|html|pdf)$"))]
        document: Path<String>,
    ) -> ApiResult<DocumentDownload> {
        auth.require(Scope::Read)?;
        let (variant, format) = parse_document(&document)?;
        let reference_value = reference.get("reference")?;
        let rendered = postmortems::render(ctx, reference_value, variant, format).await?;
        Ok(DocumentDownload {
            filename: format!(
                "{}-postmortem-{}.{}",
                reference.as_str(),
                variant.as_str(),
                format.extension()
            ),
            bytes: rendered.bytes,
            format,
        })
    }
}

/// The factors of a PUT as the service takes them; an id that is not one
/// is refused with the list of the taxonomy's.
fn factor_inputs(
    taxonomy: &FactorSettings,
    list: Vec<ContributingFactorInput>,
) -> Result<Vec<FactorInput>, ServiceError> {
    list.into_iter()
        .enumerate()
        .map(|(i, f)| {
            let field = format!("contributing_factors[{i}].factor");
            let factor = FactorSlug::parse(&field, &f.factor).map_err(|invalid| {
                ServiceError::validation(
                    field.clone(),
                    format!("{}; allowed: {}", invalid.detail, taxonomy.ids()),
                )
            })?;
            Ok(FactorInput {
                factor,
                note: f.note.non_blank().unwrap_or_default(),
            })
        })
        .collect()
}

fn found(postmortem: Postmortem) -> PostmortemFound {
    let tag = etag(postmortem.version);
    PostmortemFound::Ok(Json(postmortem), tag)
}
