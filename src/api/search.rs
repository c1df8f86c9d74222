//! `/search`: full-text search over incidents, timeline events, sitreps,
//! post-mortem sections and remediation items; and
//! `/incidents/{reference}/related`: the past incidents most like one.

use poem::web::Data;
use poem_openapi::{
    ApiResponse, Object, OpenApi,
    param::{Path, Query},
    payload::Json,
};

use super::{
    ApiTags, TokenAuth,
    params::{DateOrTime, IncidentParam},
    problem::ApiResult,
};
use crate::{
    domain::{
        IncidentStatus, Priority, RemediationStatus, Scope, Severity,
        search::{SearchKind, SearchQuery},
    },
    services::{
        Context,
        pagination::PageRequest,
        search::{
            self, SearchFilter, SearchHit,
            related::{self, OpenRemediation, RelatedIncident},
        },
    },
};

/// One search hit.
#[derive(Debug, Clone, Object)]
pub struct SearchResult {
    /// What kind of record matched.
    #[oai(rename = "type")]
    pub kind: SearchKind,
    /// The record's reference: `INC-n` (an incident and its timeline
    /// events, sitreps and post-mortem sections) or `REM-n`.
    pub reference: String,
    /// The incident the record belongs to (absent for a remediation item).
    #[oai(nullable)]
    pub incident: Option<String>,
    /// What to show as the hit's heading.
    pub title: String,
    /// Some words around the matches, HTML-escaped, each matched word
    /// inside `<mark>…</mark>` (safe to insert into HTML as it is).
    pub snippet: String,
    /// The API path of the record (`/api/v1/incidents/INC-4/sitreps/2`).
    pub link: String,
    /// Relevance, higher is better: comparable within one query only.
    pub rank: f64,
}

impl From<SearchHit> for SearchResult {
    fn from(hit: SearchHit) -> Self {
        Self {
            kind: hit.kind,
            reference: hit.reference,
            incident: hit.incident,
            title: hit.title,
            snippet: hit.snippet,
            link: hit.link,
            rank: hit.rank,
        }
    }
}

/// A page of search hits, best first.
#[derive(Debug, Clone, Object)]
pub struct SearchResults {
    /// The hits on this page.
    pub items: Vec<SearchResult>,
    /// Pass as `cursor` to get the next page; absent on the last page.
    #[oai(nullable)]
    pub next_cursor: Option<String>,
}

#[derive(ApiResponse)]
pub enum SearchAnswered {
    /// The hits.
    #[oai(status = 200)]
    Ok(Json<SearchResults>),
}

/// An open remediation item of a related incident.
#[derive(Debug, Clone, Object)]
pub struct RelatedRemediation {
    /// `REM-n`.
    pub reference: String,
    /// The item's title.
    pub title: String,
    /// `open`, `in_progress` or `blocked`.
    pub status: RemediationStatus,
    /// Its priority.
    pub priority: Priority,
    /// Who owns it.
    #[oai(nullable)]
    pub owner: Option<String>,
    /// When it is due.
    #[oai(nullable)]
    pub due_date: Option<chrono::NaiveDate>,
}

impl From<OpenRemediation> for RelatedRemediation {
    fn from(r: OpenRemediation) -> Self {
        Self {
            reference: r.reference,
            title: r.title,
            status: r.status,
            priority: r.priority,
            owner: r.owner,
            due_date: r.due_date,
        }
    }
}

/// An incident like the one asked about, and why.
#[derive(Debug, Clone, Object)]
pub struct RelatedIncidentItem {
    /// `INC-n`.
    pub reference: String,
    /// Its title.
    pub title: String,
    /// Its severity.
    pub severity: Severity,
    /// Its status.
    pub status: IncidentStatus,
    /// When it started.
    #[oai(nullable)]
    pub started_at: Option<chrono::DateTime<chrono::Utc>>,
    /// How much it shares: 3 per affected component, 2 per label, 3 per
    /// contributing factor, 1 per word of title or impact (at most 5).
    pub score: u64,
    /// Why it was chosen, one sentence per kind of thing shared.
    pub reasons: Vec<String>,
    /// Affected components both incidents name (lower case).
    pub shared_components: Vec<String>,
    /// Labels both carry (lower case).
    pub shared_labels: Vec<String>,
    /// Contributing factors both post-mortems name.
    pub shared_factors: Vec<String>,
    /// Significant words both titles or impacts use.
    pub shared_words: Vec<String>,
    /// Its remediation items not yet done.
    pub open_remediations: Vec<RelatedRemediation>,
}

impl From<RelatedIncident> for RelatedIncidentItem {
    fn from(r: RelatedIncident) -> Self {
        Self {
            reference: r.reference,
            title: r.title,
            severity: r.severity,
            status: r.status,
            started_at: r.started_at,
            score: r.score as u64,
            reasons: r.reasons,
            shared_components: r.shared_components,
            shared_labels: r.shared_labels,
            shared_factors: r.shared_factors,
            shared_words: r.shared_words,
            open_remediations: r
                .open_remediations
                .into_iter()
                .map(RelatedRemediation::from)
                .collect(),
        }
    }
}

/// The incidents most like one, closest first.
#[derive(Debug, Clone, Object)]
pub struct RelatedIncidents {
    /// At most five incidents, never the incident itself.
    pub items: Vec<RelatedIncidentItem>,
}

#[derive(ApiResponse)]
pub enum RelatedFound {
    /// The related incidents (possibly none).
    #[oai(status = 200)]
    Ok(Json<RelatedIncidents>),
}

pub struct SearchApi;

#[OpenApi(tag = "ApiTags::Search")]
impl SearchApi {
    /// Search
    ///
    /// Full-text search over incidents (title, customer impact, components,
    /// labels), timeline events, sitreps, written post-mortem sections and
    /// remediation items, ranked by relevance. `q` takes words (all must
    /// match), `"a phrase"`, `prefix*`, `-excluded` and `OR` (see the
    /// README, "Search"); a query that does not parse is a 422 naming `q`.
    #[oai(path = "/search", method = "get", operation_id = "search_records")]
    #[expect(
        clippy::too_many_arguments,
        reason = "one argument per documented query parameter"
    )]
    async fn search_records(
        &self,
        auth: TokenAuth,
        Data(ctx): Data<&Context>,
        /// The query (at most 500 characters and 16 words).
        q: Query<String>,
        /// Only these kinds, comma-separated (`incident,remediation_item`):
        /// `incident`, `timeline_event`, `sitrep`, `postmortem_section`,
        /// `remediation_item`.
        #[oai(validator(max_length = 200))]
        types: Query<Option<String>>,
        /// Only records of incidents of this severity (a remediation item:
        /// of one of its incidents).
        severity: Query<Option<Severity>>,
        /// Only records of incidents that started at or after this date (from
        /// its midnight in `digest.time_zone`) or date-time.
        since: Query<Option<DateOrTime>>,
        /// Only records of incidents that started before this date-time, or
        /// up to the end of this date.
        until: Query<Option<DateOrTime>>,
        /// Page size (1–500, default 50).
        #[oai(validator(minimum(value = "1"), maximum(value = "500")))]
        limit: Query<Option<u64>>,
        /// The `next_cursor` of the previous page.
        #[oai(validator(max_length = 200))]
        cursor: Query<Option<String>>,
    ) -> ApiResult<SearchAnswered> {
        auth.require(Scope::Read)?;
        let query = SearchQuery::parse(&q.0).map_err(crate::services::ServiceError::from)?;
        let kinds = match types.0.as_deref() {
            Some(text) => SearchKind::parse_list("types", text)
                .map_err(crate::services::ServiceError::from)?,
            None => Vec::new(),
        };
        let page = PageRequest::parse(limit.0, cursor.0.as_deref())?;
        let zone = crate::services::digests::time_zone(&ctx.settings);
        let filter = SearchFilter {
            kinds,
            severity: severity.0,
            since: since.0.map(|d| d.start(zone)),
            until: until.0.map(|d| d.end(zone)),
        };
        let page = search::search(ctx, &query, &filter, page).await?;
        Ok(SearchAnswered::Ok(Json(SearchResults {
            items: page.items.into_iter().map(SearchResult::from).collect(),
            next_cursor: page.next_cursor,
        })))
    }

    /// List related incidents
    ///
    /// Up to five other incidents most like this one, ranked by the
    /// affected components, labels, contributing factors and significant
    /// words of title and impact they share, each with its reasons and its
    /// open remediation items.
    #[oai(
        path = "/incidents/:reference/related",
        method = "get",
        operation_id = "list_related_incidents"
    )]
    async fn list_related_incidents(
        &self,
        auth: TokenAuth,
        Data(ctx): Data<&Context>,
        /// The incident's UUID or `INC-n` reference.
        reference: Path<IncidentParam>,
    ) -> ApiResult<RelatedFound> {
        auth.require(Scope::Read)?;
        let items = related::related(ctx, reference.get("reference")?).await?;
        Ok(RelatedFound::Ok(Json(RelatedIncidents {
            items: items.into_iter().map(RelatedIncidentItem::from).collect(),
        })))
    }
}
