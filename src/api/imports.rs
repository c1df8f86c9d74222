//! `/imports/{format}`: import a Debrief bundle, Statuspage incidents,
//! PagerDuty log entries, an Opsgenie incident timeline or a Slack export
//! (a channel's JSON array or a workspace export ZIP); and
//! `/incidents/{reference}/bundle`: export an incident as a bundle.
//!
//! The import body is spooled to a temporary file as it arrives (never
//! buffered in memory), counted against `import_limit_bytes`, and imported
//! from there once it is whole.

use poem::{Body, Request, RequestBody, http::StatusCode, web::Data};
use poem_openapi::{
    ApiExtractor, ApiExtractorType, ApiResponse, ExtractParamOptions, Object, OpenApi,
    param::{Path, Query},
    payload::{Json, ParsePayload, Payload},
    registry::{MetaMediaType, MetaRequest, MetaSchema, MetaSchemaRef, Registry},
};

use super::{ApiTags, TokenAuth, params::IncidentParam, text::Date};
use crate::{
    api::problem::{ApiError, ApiResult, Problem},
    domain::{IncidentRef, Scope},
    ingest::{ImportFormat, LengthUnit, Shortening},
    services::{
        Context, ServiceError,
        imports::{self, ImportCounts, ImportReport, ImportRequest, KindCounts},
    },
};

/// A file to import, read as a stream, with its declared length and
/// whether it was declared a ZIP (`Content-Type: application/zip`).
pub struct ImportFile {
    body: Body,
    declared_length: Option<u64>,
    declared_zip: bool,
}

/// The media type of a Slack workspace export.
const ZIP: &str = "application/zip";

fn is_zip_type(content_type: &str) -> bool {
    matches!(content_type.parse::<mime::Mime>(), Ok(ct) if ct.type_() == "application"
        && (ct.subtype() == "zip" || ct.subtype() == "x-zip-compressed"))
}

impl Payload for ImportFile {
    const CONTENT_TYPE: &'static str = "application/json";

    fn check_content_type(content_type: &str) -> bool {
        is_zip_type(content_type)
            || matches!(content_type.parse::<mime::Mime>(), Ok(ct) if ct.type_() == "application"
            && (ct.subtype() == "json" || ct.suffix().is_some_and(|s| s == "json")))
    }

    fn schema_ref() -> MetaSchemaRef {
        MetaSchemaRef::Inline(Box::new(MetaSchema {
            description: Some(
                "The file, in the format named by the path: a Debrief bundle \
                 (openapi/bundle.schema.json), Statuspage incidents.json or one \
                 incident, PagerDuty `{\"log_entries\": [...]}`, an Opsgenie incident \
                 timeline (`{\"data\": {\"entries\": [...]}}`), or a Slack channel \
                 export (an array of messages).",
            ),
            ..MetaSchema::ANY
        }))
    }
}

/// The ZIP form of the body, in the spec.
fn zip_schema() -> MetaSchemaRef {
    MetaSchemaRef::Inline(Box::new(MetaSchema {
        description: Some(
            "slack only: a Slack workspace export ZIP (`channels.json`, `users.json`, \
             `<channel>/<YYYY-MM-DD>.json`); name the channel with `channel`.",
        ),
        format: Some("binary"),
        ..MetaSchema::new("string")
    }))
}

impl ParsePayload for ImportFile {
    const IS_REQUIRED: bool = true;

    async fn from_request(request: &Request, body: &mut RequestBody) -> poem::Result<Self> {
        let declared_length = request
            .headers()
            .get(poem::http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        let declared_zip = request.content_type().is_some_and(is_zip_type);
        Ok(Self {
            body: body.take()?,
            declared_length,
            declared_zip,
        })
    }
}

fn problem(status: StatusCode, field: &str, detail: String) -> poem::Error {
    poem::Error::from_response(
        Problem::new(status, detail)
            .with_field(Some(field.to_string()))
            .into_poem_response(),
    )
}

impl<'a> ApiExtractor<'a> for ImportFile {
    const TYPES: &'static [ApiExtractorType] = &[ApiExtractorType::RequestObject];

    type ParamType = ();
    type ParamRawType = ();

    fn register(registry: &mut Registry) {
        <Self as Payload>::register(registry);
    }

    fn request_meta() -> Option<MetaRequest> {
        Some(MetaRequest {
            description: None,
            content: vec![
                MetaMediaType {
                    content_type: <Self as Payload>::CONTENT_TYPE,
                    schema: <Self as Payload>::schema_ref(),
                },
                MetaMediaType {
                    content_type: ZIP,
                    schema: zip_schema(),
                },
            ],
            required: true,
        })
    }

    async fn from_request(
        request: &'a Request,
        body: &mut RequestBody,
        _param_opts: ExtractParamOptions<Self::ParamType>,
    ) -> poem::Result<Self> {
        match request.content_type() {
            Some(ct) if <Self as Payload>::check_content_type(ct) => {
                <Self as ParsePayload>::from_request(request, body).await
            }
            Some(ct) => Err(problem(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "Content-Type",
                format!(
                    "`Content-Type: {ct}` is not supported; send `application/json` \
                     (or `application/zip`, for a Slack workspace export)"
                ),
            )),
            None => Err(problem(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "Content-Type",
                "the `Content-Type` header is missing; send `application/json` \
                 (or `application/zip`, for a Slack workspace export)"
                    .into(),
            )),
        }
    }
}

/// Created, updated and unchanged records of one kind.
#[derive(Debug, Clone, Object)]
pub struct ImportKindCounts {
    /// Records that were not stored before.
    pub created: u64,
    /// Stored records the file changed.
    pub updated: u64,
    /// Stored records the file holds as they are.
    pub unchanged: u64,
}

impl From<KindCounts> for ImportKindCounts {
    fn from(c: KindCounts) -> Self {
        Self {
            created: c.created,
            updated: c.updated,
            unchanged: c.unchanged,
        }
    }
}

/// Counts per kind of record.
#[derive(Debug, Clone, Object)]
pub struct ImportCountsByKind {
    /// Incidents.
    pub incidents: ImportKindCounts,
    /// Role assignments.
    pub roles: ImportKindCounts,
    /// Timeline events.
    pub timeline_events: ImportKindCounts,
    /// Sitrep versions.
    pub sitreps: ImportKindCounts,
    /// Public status updates.
    pub status_updates: ImportKindCounts,
    /// Cleanup items.
    pub cleanup_items: ImportKindCounts,
    /// Remediation items.
    pub remediation_items: ImportKindCounts,
    /// Post-mortems.
    pub postmortems: ImportKindCounts,
    /// Post-mortem sections (a section the bundle no longer holds is
    /// removed and counted as updated).
    pub postmortem_sections: ImportKindCounts,
}

impl From<ImportCounts> for ImportCountsByKind {
    fn from(c: ImportCounts) -> Self {
        Self {
            incidents: c.incidents.into(),
            roles: c.roles.into(),
            timeline_events: c.timeline_events.into(),
            sitreps: c.sitreps.into(),
            status_updates: c.status_updates.into(),
            cleanup_items: c.cleanup_items.into(),
            remediation_items: c.remediation_items.into(),
            postmortems: c.postmortems.into(),
            postmortem_sections: c.postmortem_sections.into(),
        }
    }
}

/// A value longer than Debrief stores, shortened on import. The whole value
/// is kept in an internal `note` event of the incident's timeline ("Kept
/// whole on import: …"), so nothing of the file is lost.
#[derive(Debug, Clone, Object)]
pub struct ImportShortening {
    /// Where the value is in the file, as a JSON path
    /// (`incidents[0].components[3].name`, `incident-42/2026-11-20.json[7].text`).
    pub field: String,
    /// Its length in the file.
    pub from: u64,
    /// Its length as stored: a text's characters (the last one `…`), or a
    /// list's first entries.
    pub to: u64,
    /// What `from` and `to` count.
    pub unit: LengthUnit,
}

impl From<Shortening> for ImportShortening {
    fn from(s: Shortening) -> Self {
        Self {
            field: s.field,
            from: s.from,
            to: s.to,
            unit: s.unit,
        }
    }
}

/// What an import did; for a dry run, what it would have done.
#[derive(Debug, Clone, Object)]
pub struct ImportResult {
    /// The format read.
    pub format: ImportFormat,
    /// Whether the work was rolled back.
    pub dry_run: bool,
    /// The incidents written to (`INC-n`), in file order. In a dry run, new
    /// incidents show the reference they would have had.
    pub incidents: Vec<String>,
    /// Created, updated and unchanged records per kind.
    pub counts: ImportCountsByKind,
    /// Entries read and deliberately left out: Slack join/leave and bot
    /// messages, PagerDuty entry types with no timeline meaning, hidden
    /// Opsgenie entries.
    pub skipped: u64,
    /// Values longer than Debrief stores (title 300 characters, component
    /// and person names 200, 100 components, texts 100,000), shortened
    /// rather than refused, each kept whole in an internal `note` event;
    /// the first 1,000 are listed.
    pub shortened: Vec<ImportShortening>,
    /// How many values were shortened in all.
    pub shortened_total: u64,
}

impl From<ImportReport> for ImportResult {
    fn from(r: ImportReport) -> Self {
        Self {
            format: r.format,
            dry_run: r.dry_run,
            incidents: r.incidents,
            counts: r.counts.into(),
            skipped: r.skipped,
            shortened: r.shortened.into_iter().map(Into::into).collect(),
            shortened_total: r.shortened_total,
        }
    }
}

#[derive(ApiResponse)]
pub enum ImportDone {
    /// The file was imported (or, with `dry_run`, checked and rolled back).
    #[oai(status = 200)]
    Ok(Json<ImportResult>),
}

/// A bundle as a streamed JSON body, documented as an object.
pub struct BundleJson(Body);

impl Payload for BundleJson {
    const CONTENT_TYPE: &'static str = "application/json";

    fn schema_ref() -> MetaSchemaRef {
        MetaSchemaRef::Inline(Box::new(MetaSchema {
            description: Some(
                "A Debrief bundle: `format`, `version`, `incident`, `roles`, `sitreps`, \
                 `status_updates`, `cleanup_items`, `remediation_items`, `timeline` \
                 (the JSON Schema is openapi/bundle.schema.json).",
            ),
            required: vec!["format", "version", "incident", "timeline"],
            ..MetaSchema::new("object")
        }))
    }
}

impl poem::IntoResponse for BundleJson {
    fn into_response(self) -> poem::Response {
        poem::Response::builder()
            .content_type(Self::CONTENT_TYPE)
            .body(self.0)
    }
}

#[derive(ApiResponse)]
pub enum BundleExported {
    /// The incident as a Debrief bundle (`openapi/bundle.schema.json`):
    /// importing it into an empty database and exporting again gives the
    /// same bundle.
    #[oai(status = 200)]
    Ok(BundleJson),
}

/// Where a streamed export is.
enum ExportState {
    Head(Vec<u8>, imports::BundleExport),
    Events(imports::BundleExport, bool),
    Done,
}

pub struct ImportsApi;

#[OpenApi(tag = "ApiTags::Imports")]
impl ImportsApi {
    /// Import a file
    ///
    /// Reads the body in the format named by the path, as a stream, and
    /// applies it in one transaction: all of it lands, or nothing does.
    /// Records are matched with what is stored (bundle: by id; Statuspage:
    /// by the Statuspage ids; PagerDuty: by log entry id; Opsgenie: by entry
    /// id; Slack: by message `ts`), so importing the same file twice changes
    /// nothing the second time. An error names the position in the file
    /// (`field`: a JSON path such as `timeline[41].kind`) and the reason.
    ///
    /// `slack` also reads a workspace export ZIP (`channels.json`,
    /// `users.json`, `<channel>/<YYYY-MM-DD>.json`), recognised by its first
    /// bytes (`PK\x03\x04`) or sent as `Content-Type: application/zip`; the
    /// channel is chosen by name with `channel` (422 naming `channel` and
    /// listing the channels when it is missing or unknown). User ids become
    /// names from `users.json`, and Slack markup becomes Markdown (links,
    /// mentions, `:shortcode:` emoji, bold/italic/strike). The ZIP is read,
    /// never unpacked to disk: at most 100,000 entries, stored or deflated,
    /// and once unpacked no more than `import_limit_bytes` (422 past it).
    ///
    /// A value longer than Debrief stores (a Statuspage component name of
    /// 412 characters, say) does not refuse the file: it is shortened, kept
    /// whole in an internal `note` event, and listed in `shortened`.
    #[oai(
        path = "/imports/:format",
        method = "post",
        operation_id = "create_import"
    )]
    #[expect(
        clippy::too_many_arguments,
        reason = "one argument per documented query parameter"
    )]
    async fn create_import(
        &self,
        auth: TokenAuth,
        Data(ctx): Data<&Context>,
        /// `bundle`, `statuspage`, `pagerduty`, `opsgenie` or `slack`.
        #[oai(validator(pattern = "^(bundle|statuspage|pagerduty|opsgenie|slack)$"))]
        format: Path<String>,
        /// The incident (UUID or `INC-n`) that PagerDuty log entries,
        /// Opsgenie timeline entries or Slack messages are added to; required
        /// for those formats and refused for the others, whose files name
        /// their own incidents.
        #[oai(validator(
            pattern = "^(INC-[1-9][0-9]{0,17}|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})$"
        ))]
        incident: Query<Option<String>>,
        /// Do all the work and report it, then roll it back.
        dry_run: Query<Option<bool>>,
        /// slack only: the channel to import from a workspace export ZIP, by
        /// name (`incident-42`); required for a ZIP, refused otherwise.
        #[oai(validator(min_length = 1, max_length = 80))]
        channel: Query<Option<String>>,
        /// Mark the post-mortem of every imported incident resolved before
        /// this day (00:00 UTC) `not_required` ("imported history: resolved
        /// before …"), unless it is published; absent: the
        /// `imports.history_before` setting.
        history_before: Query<Option<Date>>,
        body: ImportFile,
    ) -> ApiResult<ImportDone> {
        auth.require(Scope::Write)?;
        let incident = incident
            .0
            .as_deref()
            .map(|v| IncidentRef::parse("incident", v))
            .transpose()?;
        let format: ImportFormat = format
            .parse()
            .map_err(|e: String| ServiceError::validation("format", e))?;
        let import = ImportRequest {
            format,
            incident,
            dry_run: dry_run.0.unwrap_or(false),
            channel: channel.0,
            history_before: history_before.0.map(|d| d.0),
        };
        imports::check_request(&import)?;
        if body.declared_zip && import.format != ImportFormat::Slack {
            return Err(ApiError::from_problem(
                Problem::new(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    format!(
                        "a {} import is JSON; only slack reads a ZIP (a workspace export)",
                        import.format.as_str()
                    ),
                )
                .with_field(Some("Content-Type".into())),
            ));
        }
        let limit = ctx.settings.import_limit_bytes;
        if body.declared_length.is_some_and(|len| len > limit) {
            return Err(too_large(limit));
        }
        let spooled = spool(ctx, body.body, limit).await?;
        if body.declared_zip && !imports::is_zip(&spooled)? {
            return Err(ServiceError::bad_request(
                "body",
                "the body was sent as `application/zip` but is not a ZIP archive \
                 (it does not start with `PK\\x03\\x04`)",
            )
            .into());
        }
        let report = imports::import_file(ctx, import, &spooled).await?;
        Ok(ImportDone::Ok(Json(report.into())))
    }

    /// Export an incident as a bundle
    ///
    /// The whole incident (incident, roles, sitreps, status updates, cleanup
    /// items, remediation items, timeline) in the format
    /// `POST /imports/bundle` reads.
    #[oai(
        path = "/incidents/:reference/bundle",
        method = "get",
        operation_id = "get_incident_bundle"
    )]
    async fn get_incident_bundle(
        &self,
        auth: TokenAuth,
        Data(ctx): Data<&Context>,
        /// The incident's UUID or `INC-n` reference.
        reference: Path<IncidentParam>,
    ) -> ApiResult<BundleExported> {
        auth.require(Scope::Read)?;
        let export = imports::export_bundle(ctx, reference.get("reference")?).await?;
        // Serialised from the struct, so the keys keep the documented order;
        // the head ends `"timeline":[]}`, and the events are streamed between
        // the brackets a page at a time.
        let mut head = serde_json::to_vec(&export.head).map_err(|e| {
            ServiceError::Internal(
                anyhow::Error::new(e).context("cannot serialise the bundle's head"),
            )
        })?;
        head.truncate(head.len() - 2);
        let stream =
            futures_util::stream::unfold(ExportState::Head(head, export), |state| async move {
                match state {
                    ExportState::Head(head, export) => {
                        Some((Ok(head), ExportState::Events(export, true)))
                    }
                    ExportState::Events(mut export, first) => match export.next_events().await {
                        Ok(page) if page.is_empty() => {
                            Some((Ok(b"]}".to_vec()), ExportState::Done))
                        }
                        Ok(page) => {
                            let mut chunk = Vec::with_capacity(page.len() * 300);
                            for (i, event) in page.iter().enumerate() {
                                if !(first && i == 0) {
                                    chunk.push(b',');
                                }
                                serde_json::to_writer(&mut chunk, event)
                                    .expect("an event serialises");
                            }
                            Some((Ok(chunk), ExportState::Events(export, false)))
                        }
                        Err(err) => {
                            tracing::error!(
                                error = format!("{err:#}"),
                                "Bundle export failed mid-stream"
                            );
                            Some((
                                Err(std::io::Error::other("the export failed")),
                                ExportState::Done,
                            ))
                        }
                    },
                    ExportState::Done => None,
                }
            });
        Ok(BundleExported::Ok(BundleJson(Body::from_bytes_stream(
            stream,
        ))))
    }
}

/// Write the upload to a temporary file under `<data_dir>/spool/` (mode
/// 0600, removed when the returned path is dropped), counting it against
/// the import limit. Nothing is written to the database meanwhile, so a
/// client that uploads slowly, or stalls, holds up no one else.
async fn spool(ctx: &Context, body: Body, limit: u64) -> ApiResult<tempfile::TempPath> {
    use futures_util::StreamExt;
    use tokio::io::AsyncWriteExt;

    let internal = |e: std::io::Error| {
        ApiError::from(ServiceError::Internal(
            anyhow::Error::new(e).context("cannot spool the import"),
        ))
    };
    let dir = ctx.settings.data_dir.join("spool");
    crate::files::private_dir(&dir).map_err(internal)?;
    let (file, path) = tempfile::Builder::new()
        .prefix("import-")
        .suffix(".json")
        .tempfile_in(&dir)
        .map_err(internal)?
        .into_parts();
    let mut out = tokio::io::BufWriter::with_capacity(256 * 1024, tokio::fs::File::from_std(file));
    let mut chunks = body.into_bytes_stream();
    let mut total: u64 = 0;
    while let Some(chunk) = chunks.next().await {
        let chunk = chunk.map_err(|err| {
            let status = if err.kind() == std::io::ErrorKind::TimedOut {
                StatusCode::REQUEST_TIMEOUT
            } else {
                StatusCode::BAD_REQUEST
            };
            ApiError::from_problem(
                Problem::new(status, format!("the upload was not received whole: {err}"))
                    .with_field(Some("body".into())),
            )
        })?;
        total += chunk.len() as u64;
        if total > limit {
            return Err(too_large(limit));
        }
        out.write_all(&chunk).await.map_err(internal)?;
    }
    out.flush().await.map_err(internal)?;
    Ok(path)
}

fn too_large(limit: u64) -> ApiError {
    ApiError::from_problem(
        Problem::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "the file is larger than the import limit ({limit} bytes, `import_limit_bytes`)"
            ),
        )
        .with_field(Some("body".into())),
    )
}
