//! CSV exports: `/incidents.csv`, `/remediations.csv` (the lists' filters,
//! every matching row, streamed) and `/stats.csv` (a period's figures).
//! The format (RFC 4180, formula cells prefixed) is `reports::csv`'s.

use futures_util::TryStreamExt;
use poem::{Body, web::Data};
use poem_openapi::{
    ApiResponse, OpenApi,
    param::Query,
    payload::Payload,
    registry::{MetaSchema, MetaSchemaRef},
};

use super::{
    ApiTags, TokenAuth,
    incidents::IncidentFilterParams,
    params::{DateOrTime, IncidentParam},
    remediations::RemediationFilterParams,
    stats::period,
};
use crate::{
    api::problem::ApiResult,
    domain::{IncidentStatus, Priority, RemediationKind, Scope, Severity},
    reports::csv::stats_csv,
    services::{Context, exports, stats},
};

/// A CSV body, streamed.
pub struct CsvBody(Body);

impl Payload for CsvBody {
    const CONTENT_TYPE: &'static str = "text/csv; charset=utf-8";

    fn schema_ref() -> MetaSchemaRef {
        MetaSchemaRef::Inline(Box::new(MetaSchema {
            description: Some(
                "RFC 4180 CSV in UTF-8 (records end with CRLF), a header row first. \
                 A text cell starting with `=`, `+`, `-`, `@`, tab or CR is prefixed \
                 with `'` so that spreadsheets keep it as text.",
            ),
            ..MetaSchema::new("string")
        }))
    }
}

impl poem::IntoResponse for CsvBody {
    fn into_response(self) -> poem::Response {
        poem::Response::builder()
            .content_type(Self::CONTENT_TYPE)
            .body(self.0)
    }
}

#[derive(ApiResponse)]
pub enum CsvExported {
    /// The CSV file.
    #[oai(status = 200)]
    Ok(
        CsvBody,
        /// `attachment; filename="…csv"`.
        #[oai(header = "Content-Disposition")]
        String,
    ),
}

fn attachment(body: Body, filename: &str) -> CsvExported {
    CsvExported::Ok(
        CsvBody(body),
        format!("attachment; filename=\"{filename}\""),
    )
}

/// A streamed export as a body; a failure after the first page can only
/// cut it short, so it is logged here.
fn streamed(chunks: exports::CsvChunks, what: &'static str) -> Body {
    Body::from_bytes_stream(chunks.map_err(move |err| {
        tracing::error!(
            error = format!("{:#}", anyhow::Error::new(err)),
            export = what,
            "CSV export failed mid-stream"
        );
        std::io::Error::other("the export failed")
    }))
}

pub struct ExportsApi;

#[OpenApi]
impl ExportsApi {
    /// Export incidents as CSV
    ///
    /// Every incident the filters of `GET /incidents` select (the same
    /// parameters, checked the same way; no paging), newest first, one row
    /// each: reference, id, title, severity, status, the milestones (RFC
    /// 3339, UTC), affected components and labels (`; `-separated),
    /// customer impact, whether a customer update is overdue, the
    /// post-mortem's status and the contributing factors it names. Streamed
    /// from the database a page at a time.
    #[oai(
        path = "/incidents.csv",
        method = "get",
        operation_id = "export_incidents",
        tag = "ApiTags::Incidents"
    )]
    #[expect(
        clippy::too_many_arguments,
        reason = "one argument per documented query parameter"
    )]
    async fn export_incidents(
        &self,
        auth: TokenAuth,
        Data(ctx): Data<&Context>,
        /// Only incidents with this status.
        status: Query<Option<IncidentStatus>>,
        /// Only incidents of this severity.
        severity: Query<Option<Severity>>,
        /// Only incidents that started at or after this date (from its
        /// midnight in `digest.time_zone`) or date-time.
        since: Query<Option<DateOrTime>>,
        /// Only incidents that started before this date-time, or up to the
        /// end of this date (the whole day included).
        until: Query<Option<DateOrTime>>,
        /// Only incidents whose title contains this text (case-insensitive).
        #[oai(validator(max_length = 200))]
        q: Query<Option<String>>,
        /// Only incidents whose public update is (or is not) overdue.
        customer_update_overdue: Query<Option<bool>>,
    ) -> ApiResult<CsvExported> {
        auth.require(Scope::Read)?;
        let filter = IncidentFilterParams {
            status: status.0,
            severity: severity.0,
            since: since.0,
            until: until.0,
            q: q.0,
            customer_update_overdue: customer_update_overdue.0,
        }
        .filter(ctx);
        let chunks = exports::incidents_csv(ctx, filter).await?;
        Ok(attachment(streamed(chunks, "incidents"), "incidents.csv"))
    }

    /// Export remediation items as CSV
    ///
    /// Every item the filters of `GET /remediations` select (the same
    /// parameters, checked the same way; no paging), in the list's order,
    /// one row each: reference, id, title, kind, priority, status, owner,
    /// team, due date, whether it is overdue, the linked incidents
    /// (`; `-separated), tracker URL, description, reason, and when it was
    /// created and closed. Streamed from the database a page at a time.
    #[oai(
        path = "/remediations.csv",
        method = "get",
        operation_id = "export_remediations",
        tag = "ApiTags::Remediations"
    )]
    #[expect(
        clippy::too_many_arguments,
        reason = "one argument per documented query parameter"
    )]
    async fn export_remediations(
        &self,
        auth: TokenAuth,
        Data(ctx): Data<&Context>,
        /// Only items with one of these statuses, comma-separated
        /// (`open,in_progress,blocked`).
        /// At most 64 characters: each status once is 37.
        #[oai(validator(
            max_length = 64,
            pattern = "^(open|in_progress|blocked|done|wont_do)(,(open|in_progress|blocked|done|wont_do))*$"
        ))]
        status: Query<Option<String>>,
        /// Only items of this owner.
        #[oai(validator(max_length = 200))]
        owner: Query<Option<String>>,
        /// Only items of this team.
        #[oai(validator(max_length = 200))]
        team: Query<Option<String>>,
        /// Only items of this priority.
        priority: Query<Option<Priority>>,
        /// Only items of this kind.
        kind: Query<Option<RemediationKind>>,
        /// Only items linked to this incident (`INC-n` or UUID).
        incident: Query<Option<IncidentParam>>,
        /// Only overdue items (`true`) or items that are not overdue (`false`).
        overdue: Query<Option<bool>>,
        /// Only items due before this day.
        due_before: Query<Option<DateOrTime>>,
        /// Only items due on or after this day.
        due_after: Query<Option<DateOrTime>>,
        /// Only items whose title or description contains this text.
        #[oai(validator(max_length = 200))]
        q: Query<Option<String>>,
    ) -> ApiResult<CsvExported> {
        auth.require(Scope::Read)?;
        let filter = RemediationFilterParams {
            status: status.0,
            owner: owner.0,
            team: team.0,
            priority: priority.0,
            kind: kind.0,
            incident: incident.0,
            overdue: overdue.0,
            due_before: due_before.0,
            due_after: due_after.0,
            q: q.0,
        }
        .filter(ctx)?;
        let chunks = exports::remediations_csv(ctx, filter).await?;
        Ok(attachment(
            streamed(chunks, "remediations"),
            "remediations.csv",
        ))
    }

    /// Export the figures for a period as CSV
    ///
    /// The figures of `GET /stats` for `[from, to)` (the same parameters),
    /// one per row: `from`, `to`, `figure` (e.g. `incidents_opened`,
    /// `time_to_median_seconds`, `contributing_factor_total`), `key` (what
    /// it is counted by: a severity, a response time, a factor's id; empty
    /// when nothing) and `value` (empty when there is none, e.g. a median
    /// without incidents). The lists (the period's incidents, overdue
    /// items) are in the incident and remediation exports.
    #[oai(
        path = "/stats.csv",
        method = "get",
        operation_id = "export_stats",
        tag = "ApiTags::Stats"
    )]
    async fn export_stats(
        &self,
        auth: TokenAuth,
        Data(ctx): Data<&Context>,
        /// Start: `2026-11-16` (midnight in `digest.time_zone`) or an RFC 3339 time.
        #[oai(validator(
            max_length = 64,
            pattern = "^[0-9]{4}-[0-9]{2}-[0-9]{2}([Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]{1,9})?([Zz]|[+-][0-9]{2}:[0-9]{2}))?$"
        ))]
        from: Query<String>,
        /// End: `2026-11-22` (that whole day included) or an RFC 3339 time (excluded).
        #[oai(validator(
            max_length = 64,
            pattern = "^[0-9]{4}-[0-9]{2}-[0-9]{2}([Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]{1,9})?([Zz]|[+-][0-9]{2}:[0-9]{2}))?$"
        ))]
        to: Query<String>,
    ) -> ApiResult<CsvExported> {
        auth.require(Scope::Read)?;
        let (from_at, to_at, definitions) = period(ctx, &from.0, &to.0)?;
        let figures = stats::period_stats(
            &ctx.db,
            from_at,
            to_at,
            definitions,
            stats::Lists::CountsOnly,
        )
        .await?;
        let filename = format!(
            "stats-{}-{}.csv",
            from_at.format("%Y%m%dT%H%M%SZ"),
            to_at.format("%Y%m%dT%H%M%SZ")
        );
        Ok(attachment(Body::from(stats_csv(&figures)), &filename))
    }
}
