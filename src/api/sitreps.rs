//! `/incidents/{reference}/sitreps`: the versioned situation reports.

use chrono::{DateTime, Utc};
use poem::web::Data;
use poem_openapi::{ApiResponse, Object, OpenApi, param::Path, payload::Json};
use serde::Deserialize;
use uuid::Uuid;

use super::{
    ApiJson, ApiTags, TokenAuth,
    digests::Delivery,
    params::IncidentParam,
    status_updates::{CreateStatusUpdateRequest, StatusUpdate},
    text::entries,
};
use crate::{
    api::problem::ApiResult,
    clock::micros,
    domain::{ListEntry, LongText, Scope, ShortText, SitrepSummary, text::present},
    entities::sitrep,
    services::{
        Context, ServiceError, channels,
        sitreps::{self, NewSitrep},
    },
};

/// Who held a role when the sitrep was issued.
#[derive(Debug, Clone, Object)]
pub struct SitrepRole {
    /// The role.
    pub role: String,
    /// Who held it.
    pub person: String,
}

/// One immutable version of a situation report.
#[derive(Debug, Clone, Object)]
pub struct Sitrep {
    /// Unique id.
    pub id: Uuid,
    /// The incident.
    pub incident_id: Uuid,
    /// 1, 2, 3 … per incident, without gaps.
    pub version: i32,
    /// What is known (Markdown).
    pub summary: String,
    /// What customers experience.
    #[oai(nullable)]
    pub customer_impact: Option<String>,
    /// Who held which role at the time of issue.
    pub roles: Vec<SitrepRole>,
    /// Questions still open.
    pub open_issues: Vec<String>,
    /// Questions answered since the last version.
    pub resolved_issues: Vec<String>,
    /// What is being done now.
    pub current_actions: Vec<String>,
    /// When the next sitrep is due.
    #[oai(nullable)]
    pub next_update_due: Option<DateTime<Utc>>,
    /// Who issued it.
    #[oai(nullable)]
    pub author: Option<String>,
    /// The public status update posted with it, if any.
    #[oai(nullable)]
    pub status_update_id: Option<Uuid>,
    /// When it was issued.
    pub created_at: DateTime<Utc>,
    /// Its distribution to the incident's channels (e-mail and webhooks),
    /// one record per channel, with the delivery status.
    pub deliveries: Vec<Delivery>,
}

/// Attach each sitrep's delivery records, as a token of `scope` may see
/// them.
async fn with_deliveries(
    ctx: &Context,
    mut items: Vec<Sitrep>,
    scope: Scope,
) -> Result<Vec<Sitrep>, ServiceError> {
    let rows = channels::sitrep_deliveries(&ctx.db, items.iter().map(|s| s.id).collect()).await?;
    for row in rows {
        if let Some(item) = items.iter_mut().find(|s| Some(s.id) == row.sitrep_id) {
            item.deliveries.push(Delivery::shown_to(row, scope));
        }
    }
    Ok(items)
}

impl From<sitrep::Model> for Sitrep {
    fn from(m: sitrep::Model) -> Self {
        let roles = Vec::from(m.roles)
            .into_iter()
            .map(|r| SitrepRole {
                role: r.role,
                person: r.person,
            })
            .collect();
        Self {
            id: m.id,
            incident_id: m.incident_id,
            version: m.version,
            open_issues: m.open_issues.into(),
            resolved_issues: m.resolved_issues.into(),
            current_actions: m.current_actions.into(),
            summary: m.summary,
            customer_impact: m.customer_impact,
            roles,
            next_update_due: m.next_update_due,
            author: m.author,
            status_update_id: m.status_update_id,
            created_at: m.created_at,
            deliveries: Vec::new(),
        }
    }
}

/// A new sitrep version.
#[derive(Debug, Clone, Object, Deserialize)]
pub struct CreateSitrepRequest {
    /// What is known (Markdown, up to 50,000 characters).
    pub summary: SitrepSummary,
    /// What customers experience.
    #[oai(nullable)]
    pub customer_impact: Option<LongText>,
    /// Questions still open.
    #[oai(nullable)]
    pub open_issues: Option<Vec<ListEntry>>,
    /// Questions answered since the last version.
    #[oai(nullable)]
    pub resolved_issues: Option<Vec<ListEntry>>,
    /// What is being done now.
    #[oai(nullable)]
    pub current_actions: Option<Vec<ListEntry>>,
    /// When the next sitrep is due.
    #[oai(nullable)]
    pub next_update_due: Option<DateTime<Utc>>,
    /// Who issues it.
    #[oai(nullable)]
    pub author: Option<ShortText>,
    /// A public status update to post in the same transaction.
    #[oai(nullable)]
    pub status_update: Option<CreateStatusUpdateRequest>,
}

crate::serde_json_body!(CreateSitrepRequest);

// Fallible: a list may hold too many or invalid entries, and the status
// update posted with the sitrep may be invalid.
impl TryFrom<CreateSitrepRequest> for NewSitrep {
    type Error = ServiceError;

    fn try_from(r: CreateSitrepRequest) -> Result<Self, ServiceError> {
        let list = |field: &str, v: Option<Vec<ListEntry>>| entries(field, v, 200);
        Ok(Self {
            summary: r.summary.into_inner(),
            customer_impact: present(r.customer_impact),
            open_issues: list("open_issues", r.open_issues)?,
            resolved_issues: list("resolved_issues", r.resolved_issues)?,
            current_actions: list("current_actions", r.current_actions)?,
            next_update_due: r.next_update_due.map(micros),
            author: present(r.author),
            status_update: r
                .status_update
                .map(|s| s.into_new("status_update."))
                .transpose()?,
        })
    }
}

/// The versioned log.
#[derive(Debug, Clone, Object)]
pub struct SitrepList {
    /// Every version, oldest first (the list is always complete).
    pub items: Vec<Sitrep>,
    /// Always absent: the list is not paged.
    #[oai(nullable)]
    pub next_cursor: Option<String>,
}

/// How one field changed.
#[derive(Debug, Clone, Object)]
pub struct SitrepChange {
    /// The field: `summary`, `customer_impact`, `open_issues`,
    /// `resolved_issues`, `current_actions`, `roles`, `next_update_due` or
    /// `author`.
    pub field: String,
    /// Text and time fields: the value before.
    #[oai(nullable)]
    pub before: Option<String>,
    /// Text and time fields: the value after.
    #[oai(nullable)]
    pub after: Option<String>,
    /// List fields: entries that appeared.
    pub added: Vec<String>,
    /// List fields: entries that went away.
    pub removed: Vec<String>,
    /// Text fields: a unified line diff.
    #[oai(nullable)]
    pub diff: Option<String>,
}

/// What changed from one version to another.
#[derive(Debug, Clone, Object)]
pub struct SitrepDiff {
    /// The older version compared.
    pub from: i32,
    /// The newer version compared.
    pub to: i32,
    /// Fields that differ; empty when nothing changed.
    pub changes: Vec<SitrepChange>,
}

/// A new sitrep and the status update posted with it.
#[derive(Debug, Clone, Object)]
pub struct SitrepCreated {
    #[oai(flatten)]
    pub sitrep: Sitrep,
    /// The public status update posted in the same transaction, if any.
    #[oai(nullable)]
    pub status_update: Option<StatusUpdate>,
}

#[derive(ApiResponse)]
pub enum SitrepIssued {
    /// The new version.
    #[oai(status = 201)]
    Created(Json<SitrepCreated>),
}

#[derive(ApiResponse)]
pub enum SitrepsListed {
    /// The versioned log.
    #[oai(status = 200)]
    Ok(Json<SitrepList>),
}

#[derive(ApiResponse)]
pub enum SitrepFound {
    /// One version.
    #[oai(status = 200)]
    Ok(Json<Sitrep>),
}

#[derive(ApiResponse)]
pub enum SitrepCompared {
    /// What changed.
    #[oai(status = 200)]
    Ok(Json<SitrepDiff>),
}

pub struct SitrepsApi;

#[OpenApi(tag = "ApiTags::Sitreps")]
impl SitrepsApi {
    /// Issue a sitrep
    ///
    /// Creates the next version (1, 2, 3 … without gaps, even under
    /// concurrent writers), snapshots the current roles and, when
    /// `status_update` is given, posts that public update in the same
    /// transaction.
    #[oai(
        path = "/incidents/:reference/sitreps",
        method = "post",
        operation_id = "create_sitrep"
    )]
    async fn create_sitrep(
        &self,
        auth: TokenAuth,
        Data(ctx): Data<&Context>,
        /// The incident's UUID or `INC-n` reference.
        reference: Path<IncidentParam>,
        body: ApiJson<CreateSitrepRequest>,
    ) -> ApiResult<SitrepIssued> {
        let scope = auth.require(Scope::Write)?.scope;
        let new = NewSitrep::try_from(body.0)?;
        let (sitrep, update) = sitreps::create(ctx, reference.get("reference")?, new).await?;
        let sitrep = with_deliveries(ctx, vec![sitrep.into()], scope)
            .await?
            .remove(0);
        Ok(SitrepIssued::Created(Json(SitrepCreated {
            sitrep,
            status_update: update.map(StatusUpdate::from),
        })))
    }

    /// List sitrep versions
    #[oai(
        path = "/incidents/:reference/sitreps",
        method = "get",
        operation_id = "list_sitreps"
    )]
    async fn list_sitreps(
        &self,
        auth: TokenAuth,
        Data(ctx): Data<&Context>,
        /// The incident's UUID or `INC-n` reference.
        reference: Path<IncidentParam>,
    ) -> ApiResult<SitrepsListed> {
        let scope = auth.require(Scope::Read)?.scope;
        let items = sitreps::list(ctx, reference.get("reference")?)
            .await?
            .into_iter()
            .map(|(sitrep, deliveries)| {
                let mut item = Sitrep::from(sitrep);
                item.deliveries = deliveries
                    .into_iter()
                    .map(|row| Delivery::shown_to(row, scope))
                    .collect();
                item
            })
            .collect();
        Ok(SitrepsListed::Ok(Json(SitrepList {
            items,
            next_cursor: None,
        })))
    }

    /// Get one sitrep version
    #[oai(
        path = "/incidents/:reference/sitreps/:version",
        method = "get",
        operation_id = "get_sitrep"
    )]
    async fn get_sitrep(
        &self,
        auth: TokenAuth,
        Data(ctx): Data<&Context>,
        /// The incident's UUID or `INC-n` reference.
        reference: Path<IncidentParam>,
        /// The version number.
        #[oai(validator(minimum(value = "1"), maximum(value = "2147483647")))]
        version: Path<i32>,
    ) -> ApiResult<SitrepFound> {
        let scope = auth.require(Scope::Read)?.scope;
        let sitrep = sitreps::get(ctx, reference.get("reference")?, version.0).await?;
        let sitrep = with_deliveries(ctx, vec![sitrep.into()], scope)
            .await?
            .remove(0);
        Ok(SitrepFound::Ok(Json(sitrep)))
    }

    /// Compare two sitrep versions
    ///
    /// What changed from version `version` to version `other`: text fields
    /// as a line diff, lists as added and removed entries.
    #[oai(
        path = "/incidents/:reference/sitreps/:version/diff/:other",
        method = "get",
        operation_id = "diff_sitreps"
    )]
    async fn diff_sitreps(
        &self,
        auth: TokenAuth,
        Data(ctx): Data<&Context>,
        /// The incident's UUID or `INC-n` reference.
        reference: Path<IncidentParam>,
        /// The version to compare from.
        #[oai(validator(minimum(value = "1"), maximum(value = "2147483647")))]
        version: Path<i32>,
        /// The version to compare to.
        #[oai(validator(minimum(value = "1"), maximum(value = "2147483647")))]
        other: Path<i32>,
    ) -> ApiResult<SitrepCompared> {
        auth.require(Scope::Read)?;
        let (a, b, changes) =
            sitreps::diff(ctx, reference.get("reference")?, version.0, other.0).await?;
        Ok(SitrepCompared::Ok(Json(SitrepDiff {
            from: a.version,
            to: b.version,
            changes: changes
                .into_iter()
                .map(|c| SitrepChange {
                    field: c.field.to_string(),
                    before: c.before,
                    after: c.after,
                    added: c.added,
                    removed: c.removed,
                    diff: c.diff,
                })
                .collect(),
        })))
    }
}
