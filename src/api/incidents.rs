//! `/incidents`: create, read, list and change incidents.

use chrono::{DateTime, Utc};
use poem::web::Data;
use poem_openapi::{
    ApiResponse, Object, OpenApi,
    param::{Header, Path, Query},
    payload::Json,
    types::MaybeUndefined,
};
use serde::Deserialize;
use uuid::Uuid;

use super::{
    ApiJson, ApiTags, RenderedJson, TokenAuth,
    params::{DateOrTime, IncidentParam},
    roles::RoleAssignment,
    sitreps::Sitrep,
    text::entries,
};
use crate::{
    api::problem::ApiResult,
    clock::micros,
    domain::{
        HttpUrl, IncidentRef, IncidentStatus, ListEntry, LongText, Milestones, Scope, Severity,
        Title, text::present,
    },
    services::{
        Context, ServiceError,
        incidents::{self, IncidentChanges, IncidentFilter, IncidentView, NewIncident},
        pagination::PageRequest,
    },
};

/// An incident.
#[derive(Debug, Clone, Object)]
pub struct Incident {
    /// Unique id.
    pub id: Uuid,
    /// Human reference, e.g. `INC-42`; accepted wherever an id is.
    pub r#ref: String,
    /// What is happening, in a line.
    pub title: String,
    /// How bad it is.
    pub severity: Severity,
    /// Where the response stands.
    pub status: IncidentStatus,
    /// What customers experience.
    #[oai(nullable)]
    pub customer_impact: Option<String>,
    /// Components affected.
    pub affected_components: Vec<String>,
    /// Link to the incident's chat room.
    #[oai(nullable)]
    pub chat_room_url: Option<String>,
    /// Free labels.
    pub labels: Vec<String>,
    /// When the problem began.
    #[oai(nullable)]
    pub started_at: Option<DateTime<Utc>>,
    /// When it was detected.
    #[oai(nullable)]
    pub detected_at: Option<DateTime<Utc>>,
    /// When a responder acknowledged it.
    #[oai(nullable)]
    pub acknowledged_at: Option<DateTime<Utc>>,
    /// When customer impact was mitigated.
    #[oai(nullable)]
    pub mitigated_at: Option<DateTime<Utc>>,
    /// When it was resolved.
    #[oai(nullable)]
    pub resolved_at: Option<DateTime<Utc>>,
    /// When it was closed (follow-up finished).
    #[oai(nullable)]
    pub closed_at: Option<DateTime<Utc>>,
    /// When the last public status update was posted.
    #[oai(nullable)]
    pub last_customer_update_at: Option<DateTime<Utc>>,
    /// Open, and no public status update within the interval configured for
    /// its severity.
    pub customer_update_overdue: bool,
    /// Version for optimistic concurrency; send it back as `If-Match`.
    pub version: i32,
    /// When the record was created.
    pub created_at: DateTime<Utc>,
    /// When the record last changed.
    pub updated_at: DateTime<Utc>,
}

impl From<IncidentView> for Incident {
    fn from(view: IncidentView) -> Self {
        let i = view.incident;
        Self {
            id: i.id,
            r#ref: IncidentRef::display(i.number),
            severity: i.severity,
            status: i.status,
            title: i.title,
            customer_impact: i.customer_impact,
            affected_components: i.affected_components.into(),
            chat_room_url: i.chat_room_url,
            labels: i.labels.into(),
            started_at: i.started_at,
            detected_at: i.detected_at,
            acknowledged_at: i.acknowledged_at,
            mitigated_at: i.mitigated_at,
            resolved_at: i.resolved_at,
            closed_at: i.closed_at,
            last_customer_update_at: i.last_customer_update_at,
            customer_update_overdue: view.customer_update_overdue,
            version: i.version,
            created_at: i.created_at,
            updated_at: i.updated_at,
        }
    }
}

/// Counts of the incident's records.
#[derive(Debug, Clone, Object)]
pub struct IncidentCounts {
    /// Timeline events.
    pub timeline_events: u64,
    /// Sitrep versions.
    pub sitreps: u64,
    /// Public status updates.
    pub status_updates: u64,
    /// Cleanup items.
    pub cleanup_items: u64,
    /// Cleanup items still pending.
    pub cleanup_items_pending: u64,
    /// Remediation items linked to the incident (list them with
    /// `GET /remediations?incident=…`).
    pub remediation_items: u64,
}

/// An incident with its current sitrep, current roles and record counts.
#[derive(Debug, Clone, Object)]
pub struct IncidentDetail {
    #[oai(flatten)]
    pub incident: Incident,
    /// The latest sitrep version, if any.
    #[oai(nullable)]
    pub current_sitrep: Option<Sitrep>,
    /// Roles currently held.
    pub roles: Vec<RoleAssignment>,
    /// How many records the incident has.
    pub counts: IncidentCounts,
}

impl From<&incidents::IncidentDetail> for IncidentDetail {
    fn from(detail: &incidents::IncidentDetail) -> Self {
        let record = &detail.record;
        let c = record.counts;
        Self {
            incident: Incident::from(detail.view()),
            current_sitrep: record.current_sitrep.clone().map(Sitrep::from),
            roles: record
                .current_roles
                .iter()
                .cloned()
                .map(RoleAssignment::from)
                .collect(),
            counts: IncidentCounts {
                timeline_events: c.timeline_events,
                sitreps: c.sitreps,
                status_updates: c.status_updates,
                cleanup_items: c.cleanup_items,
                cleanup_items_pending: c.cleanup_items_pending,
                remediation_items: c.remediation_items,
            },
        }
    }
}

/// A page of incidents, newest first.
#[derive(Debug, Clone, Object)]
pub struct IncidentList {
    /// The incidents on this page.
    pub items: Vec<Incident>,
    /// Pass as `cursor` to get the next page; absent on the last page.
    #[oai(nullable)]
    pub next_cursor: Option<String>,
}

/// A new incident.
#[derive(Debug, Clone, Object, Deserialize)]
pub struct CreateIncidentRequest {
    /// What is happening, in a line (1–300 characters).
    pub title: Title,
    /// How bad it is.
    pub severity: Severity,
    /// Where the response stands; `investigating` when absent.
    #[oai(nullable)]
    pub status: Option<IncidentStatus>,
    /// What customers experience.
    #[oai(nullable)]
    pub customer_impact: Option<LongText>,
    /// Components affected.
    #[serde(default)]
    #[oai(nullable)]
    pub affected_components: Option<Vec<ListEntry>>,
    /// Link to the incident's chat room (http or https).
    #[oai(nullable)]
    pub chat_room_url: Option<HttpUrl>,
    /// Free labels.
    #[serde(default)]
    #[oai(nullable)]
    pub labels: Option<Vec<ListEntry>>,
    /// When the problem began; when absent, the earliest milestone given
    /// (detected, acknowledged, mitigated, resolved), else now.
    #[oai(nullable)]
    pub started_at: Option<DateTime<Utc>>,
    /// When it was detected.
    #[oai(nullable)]
    pub detected_at: Option<DateTime<Utc>>,
    /// When a responder acknowledged it.
    #[oai(nullable)]
    pub acknowledged_at: Option<DateTime<Utc>>,
    /// When customer impact was mitigated.
    #[oai(nullable)]
    pub mitigated_at: Option<DateTime<Utc>>,
    /// When it was resolved.
    #[oai(nullable)]
    pub resolved_at: Option<DateTime<Utc>>,
}

/// Changes to an incident: absent fields stay as they are, `null` clears a
/// field that may be empty.
#[derive(Debug, Clone, Object, Deserialize)]
pub struct UpdateIncidentRequest {
    /// New title.
    pub title: Option<Title>,
    /// New severity.
    pub severity: Option<Severity>,
    /// New status. `closed` is refused (409) while cleanup items are pending;
    /// reopening a `resolved` or `closed` incident clears `resolved_at` and
    /// `closed_at` (422 if `resolved_at` is set in the same change).
    pub status: Option<IncidentStatus>,
    /// What customers experience.
    #[serde(default)]
    #[oai(nullable)]
    pub customer_impact: MaybeUndefined<LongText>,
    /// Components affected (replaces the list).
    pub affected_components: Option<Vec<ListEntry>>,
    /// Link to the chat room.
    #[serde(default)]
    #[oai(nullable)]
    pub chat_room_url: MaybeUndefined<HttpUrl>,
    /// Labels (replaces the list).
    pub labels: Option<Vec<ListEntry>>,
    /// When the problem began.
    #[serde(default)]
    #[oai(nullable)]
    pub started_at: MaybeUndefined<DateTime<Utc>>,
    /// When it was detected.
    #[serde(default)]
    #[oai(nullable)]
    pub detected_at: MaybeUndefined<DateTime<Utc>>,
    /// When a responder acknowledged it.
    #[serde(default)]
    #[oai(nullable)]
    pub acknowledged_at: MaybeUndefined<DateTime<Utc>>,
    /// When customer impact was mitigated.
    #[serde(default)]
    #[oai(nullable)]
    pub mitigated_at: MaybeUndefined<DateTime<Utc>>,
    /// When it was resolved.
    #[serde(default)]
    #[oai(nullable)]
    pub resolved_at: MaybeUndefined<DateTime<Utc>>,
}

crate::serde_json_body!(CreateIncidentRequest, UpdateIncidentRequest);

fn opt_micros(t: Option<DateTime<Utc>>) -> Option<DateTime<Utc>> {
    t.map(micros)
}

fn change_time(v: MaybeUndefined<DateTime<Utc>>) -> incidents::Change<DateTime<Utc>> {
    Option::<Option<DateTime<Utc>>>::from(v).map(opt_micros)
}

// Fallible: a list (`affected_components`, `labels`) may hold too many or
// invalid entries.
impl TryFrom<CreateIncidentRequest> for NewIncident {
    type Error = ServiceError;

    fn try_from(r: CreateIncidentRequest) -> Result<Self, ServiceError> {
        Ok(Self {
            title: r.title.into_inner().trim().to_string(),
            severity: r.severity,
            status: r.status.unwrap_or(IncidentStatus::Investigating),
            customer_impact: present(r.customer_impact),
            affected_components: entries("affected_components", r.affected_components, 100)?,
            chat_room_url: r.chat_room_url.map(HttpUrl::into_inner),
            labels: entries("labels", r.labels, 50)?,
            milestones: Milestones {
                started_at: opt_micros(r.started_at),
                detected_at: opt_micros(r.detected_at),
                acknowledged_at: opt_micros(r.acknowledged_at),
                mitigated_at: opt_micros(r.mitigated_at),
                resolved_at: opt_micros(r.resolved_at),
            },
        })
    }
}

// Fallible: as for a new incident, a list may hold too many or invalid entries.
impl TryFrom<UpdateIncidentRequest> for IncidentChanges {
    type Error = ServiceError;

    fn try_from(r: UpdateIncidentRequest) -> Result<Self, ServiceError> {
        let customer_impact: incidents::Change<LongText> = r.customer_impact.into();
        let chat_room_url: incidents::Change<HttpUrl> = r.chat_room_url.into();
        Ok(Self {
            title: r.title.map(|t| t.into_inner().trim().to_string()),
            severity: r.severity,
            status: r.status,
            customer_impact: customer_impact.map(present),
            affected_components: r
                .affected_components
                .map(|v| entries("affected_components", Some(v), 100))
                .transpose()?,
            chat_room_url: chat_room_url.map(|v| v.map(HttpUrl::into_inner)),
            labels: r
                .labels
                .map(|v| entries("labels", Some(v), 50))
                .transpose()?,
            started_at: change_time(r.started_at),
            detected_at: change_time(r.detected_at),
            acknowledged_at: change_time(r.acknowledged_at),
            mitigated_at: change_time(r.mitigated_at),
            resolved_at: change_time(r.resolved_at),
        })
    }
}

/// The strong ETag of a version.
pub fn etag(version: i32) -> String {
    format!("\"{version}\"")
}

#[derive(ApiResponse)]
pub enum IncidentCreated {
    /// The incident was created.
    #[oai(status = 201)]
    Created(
        Json<Incident>,
        /// The incident's version, for `If-Match`.
        #[oai(header = "ETag")]
        String,
        /// Where the incident lives.
        #[oai(header = "Location")]
        String,
    ),
}

#[derive(ApiResponse)]
pub enum IncidentFound {
    /// The incident.
    #[oai(status = 200)]
    Ok(
        RenderedJson<IncidentDetail>,
        /// The incident's version, for `If-Match`.
        #[oai(header = "ETag")]
        String,
    ),
}

#[derive(ApiResponse)]
pub enum IncidentUpdated {
    /// The incident after the change.
    #[oai(status = 200)]
    Ok(
        Json<Incident>,
        /// The incident's new version.
        #[oai(header = "ETag")]
        String,
    ),
}

#[derive(ApiResponse)]
pub enum IncidentsListed {
    /// A page of incidents.
    #[oai(status = 200)]
    Ok(Json<IncidentList>),
}

pub struct IncidentsApi;

/// The filters of the incident list, as given (`GET /incidents` and its
/// CSV export take the same).
pub(super) struct IncidentFilterParams {
    pub status: Option<IncidentStatus>,
    pub severity: Option<Severity>,
    pub since: Option<DateOrTime>,
    pub until: Option<DateOrTime>,
    pub q: Option<String>,
    pub customer_update_overdue: Option<bool>,
}

impl IncidentFilterParams {
    /// The service's filter: dates are days in `digest.time_zone`.
    pub(super) fn filter(self, ctx: &Context) -> IncidentFilter {
        let zone = crate::services::digests::time_zone(&ctx.settings);
        IncidentFilter {
            status: self.status,
            severity: self.severity,
            since: self.since.map(|d| d.start(zone)),
            until: self.until.map(|d| d.end(zone)),
            q: self.q,
            customer_update_overdue: self.customer_update_overdue,
        }
    }
}

#[OpenApi(tag = "ApiTags::Incidents")]
impl IncidentsApi {
    /// Open an incident
    ///
    /// Creates an incident with the next `INC-n` reference. Milestones that
    /// are set must be in order (started ≤ detected ≤ acknowledged ≤
    /// mitigated ≤ resolved); `started_at` defaults to the earliest milestone
    /// given, else to now.
    #[oai(path = "/incidents", method = "post", operation_id = "create_incident")]
    async fn create_incident(
        &self,
        auth: TokenAuth,
        Data(ctx): Data<&Context>,
        body: ApiJson<CreateIncidentRequest>,
    ) -> ApiResult<IncidentCreated> {
        auth.require(Scope::Write)?;
        let new = NewIncident::try_from(body.0)?;
        let incident = Incident::from(incidents::create(ctx, new).await?);
        let location = format!("/api/v1/incidents/{}", incident.r#ref);
        let tag = etag(incident.version);
        Ok(IncidentCreated::Created(Json(incident), tag, location))
    }

    /// List incidents
    ///
    /// Newest first, filtered by any combination of the parameters.
    #[oai(path = "/incidents", method = "get", operation_id = "list_incidents")]
    #[expect(
        clippy::too_many_arguments,
        reason = "one argument per documented query parameter"
    )]
    async fn list_incidents(
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
        /// Page size (1–500, default 50).
        #[oai(validator(minimum(value = "1"), maximum(value = "500")))]
        limit: Query<Option<u64>>,
        /// The `next_cursor` of the previous page.
        #[oai(validator(max_length = 200))]
        cursor: Query<Option<String>>,
    ) -> ApiResult<IncidentsListed> {
        auth.require(Scope::Read)?;
        let page = PageRequest::parse(limit.0, cursor.0.as_deref())?;
        let filter = IncidentFilterParams {
            status: status.0,
            severity: severity.0,
            since: since.0,
            until: until.0,
            q: q.0,
            customer_update_overdue: customer_update_overdue.0,
        }
        .filter(ctx);
        let page = incidents::list(ctx, filter, page).await?;
        let items = page.items.into_iter().map(Incident::from).collect();
        Ok(IncidentsListed::Ok(Json(IncidentList {
            items,
            next_cursor: page.next_cursor,
        })))
    }

    /// Get an incident
    ///
    /// With its current sitrep, the roles currently held and record counts.
    #[oai(
        path = "/incidents/:reference",
        method = "get",
        operation_id = "get_incident"
    )]
    async fn get_incident(
        &self,
        auth: TokenAuth,
        Data(ctx): Data<&Context>,
        /// The incident's UUID or `INC-n` reference.
        reference: Path<IncidentParam>,
    ) -> ApiResult<IncidentFound> {
        auth.require(Scope::Read)?;
        let detail = incidents::detail(ctx, reference.get("reference")?).await?;
        let record = &detail.record;
        let body = record.derived(detail.customer_update_overdue, || {
            RenderedJson::render(&IncidentDetail::from(&detail))
        });
        Ok(IncidentFound::Ok(
            RenderedJson::new(body),
            etag(record.incident.version),
        ))
    }

    /// Change an incident
    ///
    /// Send `If-Match` with the version you read: if the incident changed
    /// since, the answer is 412 and nothing is changed. Setting `status` to
    /// `closed` is refused (409) while cleanup items are pending. Reopening
    /// (a `resolved` or `closed` incident set to `investigating`,
    /// `identified` or `monitoring`) clears `resolved_at` and `closed_at`,
    /// and a `system` timeline event records what they were.
    #[oai(
        path = "/incidents/:reference",
        method = "patch",
        operation_id = "update_incident"
    )]
    async fn update_incident(
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
        body: ApiJson<UpdateIncidentRequest>,
    ) -> ApiResult<IncidentUpdated> {
        auth.require(Scope::Write)?;
        let changes = IncidentChanges::try_from(body.0)?;
        let view = incidents::update(
            ctx,
            reference.get("reference")?,
            if_match.0.as_deref(),
            changes,
        )
        .await?;
        let incident = Incident::from(view);
        let tag = etag(incident.version);
        Ok(IncidentUpdated::Ok(Json(incident), tag))
    }
}
