//! `/remediations`: follow-ups tracked to done, with history and a summary
//! for dashboards.

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
    ApiJson, ApiTags, TokenAuth,
    incidents::etag,
    params::{DateOrTime, IncidentParam, RemediationParam},
    text::Date,
};
use crate::{
    api::problem::ApiResult,
    domain::{
        HttpUrl, IncidentRef, LongText, Priority, Reason, RemediationKind, RemediationRef,
        RemediationStatus, Scope, ShortText, Title, TrackerKind, text::present,
    },
    entities::remediation_history,
    services::{
        Context, ServiceError,
        pagination::PageRequest,
        remediations::{
            self, GroupCounts, NewRemediation, RemediationChanges, RemediationFilter,
            RemediationView,
        },
    },
};

/// A remediation item.
#[derive(Debug, Clone, Object)]
pub struct RemediationItem {
    /// Unique id.
    pub id: Uuid,
    /// Human reference, e.g. `REM-7`; accepted wherever an id is.
    pub r#ref: String,
    /// What must be done, in a line.
    pub title: String,
    /// Details (Markdown).
    #[oai(nullable)]
    pub description: Option<String>,
    /// What it does about the causes.
    pub kind: RemediationKind,
    /// How urgent it is.
    pub priority: Priority,
    /// Who does it.
    #[oai(nullable)]
    pub owner: Option<String>,
    /// Which team owns it.
    #[oai(nullable)]
    pub team: Option<String>,
    /// When it is due (a calendar date).
    #[oai(nullable)]
    pub due_date: Option<Date>,
    /// Where it stands.
    pub status: RemediationStatus,
    /// Why it is `wont_do`.
    #[oai(nullable)]
    pub reason: Option<String>,
    /// Link to the ticket in the team's tracker (set by the sync when the
    /// item has a `tracker`).
    #[oai(nullable)]
    pub tracker_url: Option<String>,
    /// The tracker the item is synced with (`github`, `jira`); null: none.
    #[oai(nullable)]
    pub tracker: Option<TrackerKind>,
    /// The key in that tracker (`acme/ops#12`, `OPS-12`); null
    /// until the issue is created.
    #[oai(nullable)]
    pub tracker_key: Option<String>,
    /// When the item and its issue were last known to be in step.
    #[oai(nullable)]
    pub tracker_synced_at: Option<DateTime<Utc>>,
    /// Why the last exchange with the tracker failed; null after a success.
    #[oai(nullable)]
    pub tracker_error: Option<String>,
    /// The incidents it came out of (`INC-n`).
    pub incidents: Vec<String>,
    /// Due date passed and neither `done` nor `wont_do`.
    pub overdue: bool,
    /// When it became `done` or `wont_do`.
    #[oai(nullable)]
    pub closed_at: Option<DateTime<Utc>>,
    /// Version for optimistic concurrency; send it back as `If-Match`.
    pub version: i32,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

impl From<RemediationView> for RemediationItem {
    fn from(view: RemediationView) -> Self {
        let m = view.item;
        Self {
            id: m.id,
            r#ref: RemediationRef::display(m.number),
            title: m.title,
            description: m.description,
            kind: m.kind,
            priority: m.priority,
            owner: m.owner,
            team: m.team,
            due_date: m.due_date.map(Date),
            status: m.status,
            reason: m.reason,
            tracker_url: m.tracker_url,
            tracker: m.tracker,
            tracker_key: m.tracker_key,
            tracker_synced_at: m.tracker_synced_at,
            tracker_error: m.tracker_error,
            incidents: view.incidents,
            overdue: view.overdue,
            closed_at: m.closed_at,
            version: m.version,
            created_at: m.created_at,
            updated_at: m.updated_at,
        }
    }
}

/// One change of one field.
#[derive(Debug, Clone, Object)]
pub struct RemediationChange {
    /// When.
    pub changed_at: DateTime<Utc>,
    /// Who: the name of the API token that made the change.
    pub actor: String,
    /// Which field (`created` for the creation, `incidents` for links).
    pub field: String,
    /// The value before.
    #[oai(nullable)]
    pub old_value: Option<String>,
    /// The value after.
    #[oai(nullable)]
    pub new_value: Option<String>,
}

impl From<remediation_history::Model> for RemediationChange {
    fn from(m: remediation_history::Model) -> Self {
        Self {
            changed_at: m.changed_at,
            actor: m.actor,
            field: m.field,
            old_value: m.old_value,
            new_value: m.new_value,
        }
    }
}

/// A remediation item with every change made to it.
#[derive(Debug, Clone, Object)]
pub struct RemediationItemDetail {
    #[oai(flatten)]
    pub item: RemediationItem,
    /// Every change, oldest first.
    pub history: Vec<RemediationChange>,
}

/// A page of remediation items, by due date (items without one last).
#[derive(Debug, Clone, Object)]
pub struct RemediationItemList {
    /// The items on this page.
    pub items: Vec<RemediationItem>,
    /// Pass as `cursor` to get the next page; absent on the last page.
    #[oai(nullable)]
    pub next_cursor: Option<String>,
}

/// A new remediation item.
#[derive(Debug, Clone, Object, Deserialize)]
pub struct CreateRemediationRequest {
    /// What must be done, in a line.
    pub title: Title,
    /// Details (Markdown).
    #[oai(nullable)]
    pub description: Option<LongText>,
    /// What it does about the causes.
    pub kind: RemediationKind,
    /// How urgent it is; sets the default due date.
    pub priority: Priority,
    /// Who does it.
    #[oai(nullable)]
    pub owner: Option<ShortText>,
    /// Which team owns it.
    #[oai(nullable)]
    pub team: Option<ShortText>,
    /// When it is due; a past date is accepted (an item entered after the
    /// fact is overdue from the start). Absent: today plus the priority's
    /// default period (p0 7 days, p1 30, p2 90, p3 none by default).
    #[oai(nullable)]
    pub due_date: Option<Date>,
    /// Where it stands; `open` when absent.
    #[oai(nullable)]
    pub status: Option<RemediationStatus>,
    /// Why it is `wont_do` (required for that status).
    #[oai(nullable)]
    pub reason: Option<Reason>,
    /// Link to the ticket in the team's tracker, typed by hand (to sync
    /// with the issue, use `tracker` or `POST …/tracker` instead).
    #[oai(nullable)]
    pub tracker_url: Option<HttpUrl>,
    /// Create and sync an issue in this tracker (it must be configured).
    /// Absent: the tracker of the item's team (`trackers.teams`), else
    /// `trackers.default`, else none.
    #[oai(nullable)]
    pub tracker: Option<TrackerKind>,
    /// The incidents it came out of (`INC-n` or UUID): at least one.
    #[oai(validator(min_items = 1, max_items = 100))]
    pub incidents: Vec<String>,
}

/// Changes to a remediation item; absent fields stay as they are, `null`
/// clears a field that may be empty.
#[derive(Debug, Clone, Object, Deserialize)]
pub struct UpdateRemediationRequest {
    /// New title.
    pub title: Option<Title>,
    /// Details.
    #[serde(default)]
    #[oai(nullable)]
    pub description: MaybeUndefined<LongText>,
    /// What it does.
    pub kind: Option<RemediationKind>,
    /// How urgent it is (the due date stays as it is).
    pub priority: Option<Priority>,
    /// Who does it.
    #[serde(default)]
    #[oai(nullable)]
    pub owner: MaybeUndefined<ShortText>,
    /// Which team owns it.
    #[serde(default)]
    #[oai(nullable)]
    pub team: MaybeUndefined<ShortText>,
    /// When it is due; a past date is accepted (the item is then overdue).
    #[serde(default)]
    #[oai(nullable)]
    pub due_date: MaybeUndefined<Date>,
    /// New status. Open work may move to any status; a `done` or `wont_do`
    /// item can only be reopened (`open`). `wont_do` needs a `reason`.
    pub status: Option<RemediationStatus>,
    /// Why it is `wont_do`.
    #[serde(default)]
    #[oai(nullable)]
    pub reason: MaybeUndefined<Reason>,
    /// Link to the ticket.
    #[serde(default)]
    #[oai(nullable)]
    pub tracker_url: MaybeUndefined<HttpUrl>,
}

/// An incident to link.
#[derive(Debug, Clone, Object, Deserialize)]
pub struct LinkIncidentRequest {
    /// The incident (`INC-n` or UUID).
    #[oai(validator(max_length = 64))]
    pub incident: String,
}

crate::serde_json_body!(
    CreateRemediationRequest,
    UpdateRemediationRequest,
    LinkIncidentRequest
);

/// An owner or a team: trimmed, `None` when blank.
fn name(v: Option<ShortText>) -> Option<String> {
    present(v).map(|s| s.trim().to_string())
}

// Fallible: `incidents` may name more than 100 incidents, or a text that
// is no incident reference.
impl TryFrom<CreateRemediationRequest> for NewRemediation {
    type Error = ServiceError;

    fn try_from(r: CreateRemediationRequest) -> Result<Self, ServiceError> {
        if r.incidents.len() > 100 {
            return Err(ServiceError::validation(
                "incidents",
                "at most 100 incidents",
            ));
        }
        let incidents = r
            .incidents
            .iter()
            .enumerate()
            .map(|(i, v)| {
                IncidentRef::parse(&format!("incidents[{i}]"), v).map_err(|_| {
                    ServiceError::validation(
                        format!("incidents[{i}]"),
                        format!("{v:?} is neither an incident UUID nor a reference like INC-42"),
                    )
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            title: r.title.into_inner(),
            description: present(r.description),
            kind: r.kind,
            priority: r.priority,
            owner: name(r.owner),
            team: name(r.team),
            due_date: r.due_date.map(|d| d.0),
            status: r.status.unwrap_or(RemediationStatus::Open),
            reason: present(r.reason),
            tracker_url: r.tracker_url.map(HttpUrl::into_inner),
            tracker: r.tracker,
            incidents,
        })
    }
}

impl From<UpdateRemediationRequest> for RemediationChanges {
    fn from(r: UpdateRemediationRequest) -> Self {
        let tracker_url: Option<Option<HttpUrl>> = r.tracker_url.into();
        let owner: Option<Option<ShortText>> = r.owner.into();
        let team: Option<Option<ShortText>> = r.team.into();
        Self {
            title: r.title.map(Title::into_inner),
            description: Option::<Option<LongText>>::from(r.description).map(present),
            kind: r.kind,
            priority: r.priority,
            owner: owner.map(name),
            team: team.map(name),
            due_date: Option::<Option<Date>>::from(r.due_date).map(|d| d.map(|d| d.0)),
            status: r.status,
            reason: Option::<Option<Reason>>::from(r.reason).map(present),
            tracker_url: tracker_url.map(|v| v.map(HttpUrl::into_inner)),
        }
    }
}

/// Open, overdue and closed items of one group.
#[derive(Debug, Clone, Object)]
pub struct RemediationCounts {
    /// Not done and not decided against.
    pub open: u64,
    /// Open and past the due date.
    pub overdue: u64,
    /// `done` or `wont_do`.
    pub closed: u64,
}

impl From<GroupCounts> for RemediationCounts {
    fn from(c: GroupCounts) -> Self {
        Self {
            open: c.open,
            overdue: c.overdue,
            closed: c.closed,
        }
    }
}

/// Counts for one team.
#[derive(Debug, Clone, Object)]
pub struct TeamCounts {
    /// The team; absent for items without one.
    #[oai(nullable)]
    pub team: Option<String>,
    #[oai(flatten)]
    pub counts: RemediationCounts,
}

/// Counts for one priority.
#[derive(Debug, Clone, Object)]
pub struct PriorityCounts {
    /// The priority.
    pub priority: Priority,
    #[oai(flatten)]
    pub counts: RemediationCounts,
}

/// Figures for dashboards.
#[derive(Debug, Clone, Object)]
pub struct RemediationSummary {
    /// The day the figures are computed for (UTC).
    pub as_of: Date,
    /// First day of the completion-rate period.
    pub from: Date,
    /// Last day of the completion-rate period.
    pub to: Date,
    /// All items.
    pub totals: RemediationCounts,
    /// Per team.
    pub by_team: Vec<TeamCounts>,
    /// Per priority.
    pub by_priority: Vec<PriorityCounts>,
    /// Items due within the period that are done or already past due
    /// (`wont_do` items are left out).
    pub due_in_period: u64,
    /// Of those, done on or before their due date.
    pub done_on_time: u64,
    /// `done_on_time / due_in_period`; absent when nothing was due.
    #[oai(nullable)]
    pub completion_rate: Option<f64>,
    /// Median age of open items, in days; absent when none is open.
    #[oai(nullable)]
    pub median_open_age_days: Option<f64>,
}

#[derive(ApiResponse)]
pub enum RemediationCreated {
    /// The item was created.
    #[oai(status = 201)]
    Created(
        Json<RemediationItem>,
        /// The item's version, for `If-Match`.
        #[oai(header = "ETag")]
        String,
        /// Where the item lives.
        #[oai(header = "Location")]
        String,
    ),
}

#[derive(ApiResponse)]
pub enum RemediationFound {
    /// The item with its history.
    #[oai(status = 200)]
    Ok(
        Json<RemediationItemDetail>,
        /// The item's version, for `If-Match`.
        #[oai(header = "ETag")]
        String,
    ),
}

#[derive(ApiResponse)]
pub enum RemediationChanged {
    /// The item after the change.
    #[oai(status = 200)]
    Ok(
        Json<RemediationItem>,
        /// The item's version.
        #[oai(header = "ETag")]
        String,
    ),
}

#[derive(ApiResponse)]
pub enum RemediationsListed {
    /// A page of items.
    #[oai(status = 200)]
    Ok(Json<RemediationItemList>),
}

#[derive(ApiResponse)]
pub enum RemediationSummarised {
    /// The figures.
    #[oai(status = 200)]
    Ok(Json<RemediationSummary>),
}

pub struct RemediationsApi;

/// The filters of the remediation list, as given (`GET /remediations` and
/// its CSV export take the same).
pub(super) struct RemediationFilterParams {
    pub status: Option<String>,
    pub owner: Option<String>,
    pub team: Option<String>,
    pub priority: Option<Priority>,
    pub kind: Option<RemediationKind>,
    pub incident: Option<IncidentParam>,
    pub overdue: Option<bool>,
    pub due_before: Option<DateOrTime>,
    pub due_after: Option<DateOrTime>,
    pub q: Option<String>,
}

impl RemediationFilterParams {
    /// The service's filter: statuses parsed, days in `digest.time_zone`.
    pub(super) fn filter(self, ctx: &Context) -> Result<RemediationFilter, ServiceError> {
        let zone = crate::services::digests::time_zone(&ctx.settings);
        Ok(RemediationFilter {
            statuses: self
                .status
                .as_deref()
                .map(|list| {
                    list.split(',')
                        .map(|s| {
                            s.parse()
                                .map_err(|e: String| ServiceError::validation("status", e))
                        })
                        .collect::<Result<Vec<RemediationStatus>, _>>()
                })
                .transpose()?
                .unwrap_or_default(),
            owner: self.owner,
            team: self.team,
            priority: self.priority,
            kind: self.kind,
            incident: self.incident.map(|r| r.get("incident")).transpose()?,
            overdue: self.overdue,
            due_before: self.due_before.map(|d| d.day(zone)),
            due_after: self.due_after.map(|d| d.day(zone)),
            q: self.q,
        })
    }
}

pub(super) fn changed(view: RemediationView) -> Result<RemediationChanged, ServiceError> {
    let item = RemediationItem::from(view);
    let tag = etag(item.version);
    Ok(RemediationChanged::Ok(Json(item), tag))
}

#[OpenApi(tag = "ApiTags::Remediations")]
impl RemediationsApi {
    /// Create a remediation item
    ///
    /// Linked to one or more incidents. Without `due_date` it is due after
    /// the default period of its priority.
    #[oai(
        path = "/remediations",
        method = "post",
        operation_id = "create_remediation"
    )]
    async fn create_remediation(
        &self,
        auth: TokenAuth,
        Data(ctx): Data<&Context>,
        body: ApiJson<CreateRemediationRequest>,
    ) -> ApiResult<RemediationCreated> {
        let actor = auth.require(Scope::Write)?.token_name.clone();
        let new = NewRemediation::try_from(body.0)?;
        let item = RemediationItem::from(remediations::create(ctx, new, &actor).await?);
        let tag = etag(item.version);
        let location = format!("/api/v1/remediations/{}", item.r#ref);
        Ok(RemediationCreated::Created(Json(item), tag, location))
    }

    /// List remediation items
    ///
    /// By due date (items without one last), filtered by any combination of
    /// the parameters.
    #[oai(
        path = "/remediations",
        method = "get",
        operation_id = "list_remediations"
    )]
    #[expect(
        clippy::too_many_arguments,
        reason = "one argument per documented query parameter"
    )]
    async fn list_remediations(
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
        /// Page size (1–500, default 50).
        #[oai(validator(minimum(value = "1"), maximum(value = "500")))]
        limit: Query<Option<u64>>,
        /// The `next_cursor` of the previous page.
        #[oai(validator(max_length = 200))]
        cursor: Query<Option<String>>,
    ) -> ApiResult<RemediationsListed> {
        auth.require(Scope::Read)?;
        let page = PageRequest::parse(limit.0, cursor.0.as_deref())?;
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
        let page = remediations::list(ctx, filter, page).await?;
        let items = page.items.into_iter().map(RemediationItem::from).collect();
        Ok(RemediationsListed::Ok(Json(RemediationItemList {
            items,
            next_cursor: page.next_cursor,
        })))
    }

    /// Summarise remediation items
    ///
    /// Open, overdue and closed counts by team and priority; the share of
    /// items due in the period that were done on time; the median age of
    /// open items.
    #[oai(
        path = "/remediations/summary",
        method = "get",
        operation_id = "summarise_remediations"
    )]
    async fn summarise_remediations(
        &self,
        auth: TokenAuth,
        Data(ctx): Data<&Context>,
        /// First day of the completion-rate period (a date, or a date-time's
        /// day); 90 days before `to` by default.
        from: Query<Option<DateOrTime>>,
        /// Last day of the period (a date, or a date-time's day); today by
        /// default.
        to: Query<Option<DateOrTime>>,
    ) -> ApiResult<RemediationSummarised> {
        auth.require(Scope::Read)?;
        let zone = crate::services::digests::time_zone(&ctx.settings);
        let s = remediations::summary(ctx, from.0.map(|d| d.day(zone)), to.0.map(|d| d.day(zone)))
            .await?;
        Ok(RemediationSummarised::Ok(Json(RemediationSummary {
            as_of: Date(s.as_of),
            from: Date(s.from),
            to: Date(s.to),
            totals: s.totals.into(),
            by_team: s
                .by_team
                .into_iter()
                .map(|(team, c)| TeamCounts {
                    team,
                    counts: c.into(),
                })
                .collect(),
            by_priority: s
                .by_priority
                .into_iter()
                .map(|(priority, c)| PriorityCounts {
                    priority,
                    counts: c.into(),
                })
                .collect(),
            due_in_period: s.due_in_period,
            done_on_time: s.done_on_time,
            completion_rate: s.completion_rate,
            median_open_age_days: s.median_open_age_days,
        })))
    }

    /// Get a remediation item
    ///
    /// With the history of every change: who, when, which field, old and new value.
    #[oai(
        path = "/remediations/:remediation",
        method = "get",
        operation_id = "get_remediation"
    )]
    async fn get_remediation(
        &self,
        auth: TokenAuth,
        Data(ctx): Data<&Context>,
        /// The item's UUID or `REM-n` reference.
        remediation: Path<RemediationParam>,
    ) -> ApiResult<RemediationFound> {
        auth.require(Scope::Read)?;
        let detail = remediations::get(ctx, remediation.get("remediation")?).await?;
        let item = RemediationItem::from(detail.view);
        let tag = etag(item.version);
        let history = detail
            .history
            .into_iter()
            .map(RemediationChange::from)
            .collect();
        Ok(RemediationFound::Ok(
            Json(RemediationItemDetail { item, history }),
            tag,
        ))
    }

    /// Change a remediation item
    ///
    /// Every changed field is written to the history. `If-Match` guards
    /// against lost updates (412 when stale).
    #[oai(
        path = "/remediations/:remediation",
        method = "patch",
        operation_id = "update_remediation"
    )]
    async fn update_remediation(
        &self,
        auth: TokenAuth,
        Data(ctx): Data<&Context>,
        /// The item's UUID or `REM-n` reference.
        remediation: Path<RemediationParam>,
        /// The version (ETag) the change is based on.
        #[oai(
            name = "If-Match",
            validator(
                pattern = "^\\s*(\\*|(W/)?\"?[0-9]{1,9}\"?(\\s*,\\s*(W/)?\"?[0-9]{1,9}\"?)*)\\s*$"
            )
        )]
        if_match: Header<Option<String>>,
        body: ApiJson<UpdateRemediationRequest>,
    ) -> ApiResult<RemediationChanged> {
        let actor = auth.require(Scope::Write)?.token_name.clone();
        let changes = RemediationChanges::from(body.0);
        let view = remediations::update(
            ctx,
            remediation.get("remediation")?,
            if_match.0.as_deref(),
            changes,
            &actor,
        )
        .await?;
        Ok(changed(view)?)
    }

    /// Link a remediation item to an incident
    #[oai(
        path = "/remediations/:remediation/incidents",
        method = "post",
        operation_id = "link_remediation_incident"
    )]
    async fn link_remediation_incident(
        &self,
        auth: TokenAuth,
        Data(ctx): Data<&Context>,
        /// The item's UUID or `REM-n` reference.
        remediation: Path<RemediationParam>,
        body: ApiJson<LinkIncidentRequest>,
    ) -> ApiResult<RemediationChanged> {
        let actor = auth.require(Scope::Write)?.token_name.clone();
        let incident = IncidentRef::parse("incident", &body.0.incident).map_err(|_| {
            ServiceError::validation(
                "incident",
                format!(
                    "{:?} is neither an incident UUID nor a reference like INC-42",
                    body.0.incident
                ),
            )
        })?;
        let view =
            remediations::link(ctx, remediation.get("remediation")?, incident, &actor).await?;
        Ok(changed(view)?)
    }

    /// Unlink a remediation item from an incident
    ///
    /// The last link cannot be removed (409): an item always belongs to an incident.
    #[oai(
        path = "/remediations/:remediation/incidents/:incident",
        method = "delete",
        operation_id = "unlink_remediation_incident"
    )]
    async fn unlink_remediation_incident(
        &self,
        auth: TokenAuth,
        Data(ctx): Data<&Context>,
        /// The item's UUID or `REM-n` reference.
        remediation: Path<RemediationParam>,
        /// The incident's UUID or `INC-n` reference.
        incident: Path<IncidentParam>,
    ) -> ApiResult<RemediationChanged> {
        let actor = auth.require(Scope::Write)?.token_name.clone();
        let view = remediations::unlink(
            ctx,
            remediation.get("remediation")?,
            incident.get("incident")?,
            &actor,
        )
        .await?;
        Ok(changed(view)?)
    }
}
