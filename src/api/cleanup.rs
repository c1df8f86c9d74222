//! `/incidents/{reference}/cleanup-items`: temporary changes to undo.

use chrono::{DateTime, Utc};
use poem::web::Data;
use poem_openapi::{
    ApiResponse, Object, OpenApi,
    param::{Header, Path},
    payload::Json,
    types::MaybeUndefined,
};
use serde::Deserialize;
use uuid::Uuid;

use super::{ApiJson, ApiTags, TokenAuth, incidents::etag, params::IncidentParam};
use crate::{
    api::problem::ApiResult,
    domain::{CleanupKind, CleanupStatus, Description, Reason, Scope, ShortText, text::present},
    entities::cleanup_item,
    services::{
        Context,
        cleanup::{self, CleanupChanges, NewCleanupItem},
    },
};

/// A temporary change made during the response.
#[derive(Debug, Clone, Object)]
pub struct CleanupItem {
    /// Unique id.
    pub id: Uuid,
    /// The incident.
    pub incident_id: Uuid,
    /// What kind of change it is.
    pub kind: CleanupKind,
    /// What was changed, and how to undo it.
    pub description: String,
    /// Who undoes it.
    #[oai(nullable)]
    pub owner: Option<String>,
    /// `pending`, `undone`, or `kept` (with a reason).
    pub status: CleanupStatus,
    /// Why it is kept.
    #[oai(nullable)]
    pub reason: Option<String>,
    /// Version for optimistic concurrency (`If-Match`).
    pub version: i32,
    /// When it was recorded.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

impl From<cleanup_item::Model> for CleanupItem {
    fn from(m: cleanup_item::Model) -> Self {
        Self {
            id: m.id,
            incident_id: m.incident_id,
            kind: m.kind,
            description: m.description,
            owner: m.owner,
            status: m.status,
            reason: m.reason,
            version: m.version,
            created_at: m.created_at,
            updated_at: m.updated_at,
        }
    }
}

/// A temporary change to track.
#[derive(Debug, Clone, Object, Deserialize)]
pub struct CreateCleanupItemRequest {
    /// What kind of change it is.
    pub kind: CleanupKind,
    /// What was changed, and how to undo it.
    pub description: Description,
    /// Who undoes it.
    #[oai(nullable)]
    pub owner: Option<ShortText>,
}

/// Changes to a cleanup item; absent fields stay as they are.
#[derive(Debug, Clone, Object, Deserialize)]
pub struct UpdateCleanupItemRequest {
    /// New status; `kept` needs a `reason`.
    pub status: Option<CleanupStatus>,
    /// Why it is kept.
    #[serde(default)]
    #[oai(nullable)]
    pub reason: MaybeUndefined<Reason>,
    /// Who undoes it.
    #[serde(default)]
    #[oai(nullable)]
    pub owner: MaybeUndefined<ShortText>,
    /// What was changed.
    pub description: Option<Description>,
    /// What kind of change it is.
    pub kind: Option<CleanupKind>,
}

crate::serde_json_body!(CreateCleanupItemRequest, UpdateCleanupItemRequest);

/// Every cleanup item of an incident, oldest first.
#[derive(Debug, Clone, Object)]
pub struct CleanupItemList {
    /// The items (the list is always complete).
    pub items: Vec<CleanupItem>,
    /// Always absent: the list is not paged.
    #[oai(nullable)]
    pub next_cursor: Option<String>,
}

#[derive(ApiResponse)]
pub enum CleanupItemCreated {
    /// The item was recorded as `pending`.
    #[oai(status = 201)]
    Created(Json<CleanupItem>),
}

#[derive(ApiResponse)]
pub enum CleanupItemUpdated {
    /// The item after the change.
    #[oai(status = 200)]
    Ok(
        Json<CleanupItem>,
        /// The item's new version.
        #[oai(header = "ETag")]
        String,
    ),
}

#[derive(ApiResponse)]
pub enum CleanupItemsListed {
    /// The items.
    #[oai(status = 200)]
    Ok(Json<CleanupItemList>),
}

pub struct CleanupApi;

#[OpenApi(tag = "ApiTags::Cleanup")]
impl CleanupApi {
    /// Record a cleanup item
    ///
    /// A temporary change (silenced alert, maintenance mode …) that must be
    /// undone, or kept with a reason, before the incident can be closed.
    #[oai(
        path = "/incidents/:reference/cleanup-items",
        method = "post",
        operation_id = "create_cleanup_item"
    )]
    async fn create_cleanup_item(
        &self,
        auth: TokenAuth,
        Data(ctx): Data<&Context>,
        /// The incident's UUID or `INC-n` reference.
        reference: Path<IncidentParam>,
        body: ApiJson<CreateCleanupItemRequest>,
    ) -> ApiResult<CleanupItemCreated> {
        auth.require(Scope::Write)?;
        let r = body.0;
        let new = NewCleanupItem {
            kind: r.kind,
            description: r.description.into_inner(),
            owner: present(r.owner),
        };
        let model = cleanup::create(ctx, reference.get("reference")?, new).await?;
        Ok(CleanupItemCreated::Created(Json(model.into())))
    }

    /// List cleanup items
    #[oai(
        path = "/incidents/:reference/cleanup-items",
        method = "get",
        operation_id = "list_cleanup_items"
    )]
    async fn list_cleanup_items(
        &self,
        auth: TokenAuth,
        Data(ctx): Data<&Context>,
        /// The incident's UUID or `INC-n` reference.
        reference: Path<IncidentParam>,
    ) -> ApiResult<CleanupItemsListed> {
        auth.require(Scope::Read)?;
        let items = cleanup::list(ctx, reference.get("reference")?)
            .await?
            .into_iter()
            .map(CleanupItem::from)
            .collect();
        Ok(CleanupItemsListed::Ok(Json(CleanupItemList {
            items,
            next_cursor: None,
        })))
    }

    /// Change a cleanup item
    ///
    /// Mark it `undone`, or `kept` with a `reason`. `If-Match` guards against
    /// lost updates (412 when stale).
    #[oai(
        path = "/incidents/:reference/cleanup-items/:item_id",
        method = "patch",
        operation_id = "update_cleanup_item"
    )]
    async fn update_cleanup_item(
        &self,
        auth: TokenAuth,
        Data(ctx): Data<&Context>,
        /// The incident's UUID or `INC-n` reference.
        reference: Path<IncidentParam>,
        /// The cleanup item's id.
        item_id: Path<Uuid>,
        /// The version (ETag) the change is based on.
        #[oai(
            name = "If-Match",
            validator(
                pattern = "^\\s*(\\*|(W/)?\"?[0-9]{1,9}\"?(\\s*,\\s*(W/)?\"?[0-9]{1,9}\"?)*)\\s*$"
            )
        )]
        if_match: Header<Option<String>>,
        body: ApiJson<UpdateCleanupItemRequest>,
    ) -> ApiResult<CleanupItemUpdated> {
        auth.require(Scope::Write)?;
        let r = body.0;
        let reason: Option<Option<Reason>> = r.reason.into();
        let owner: Option<Option<ShortText>> = r.owner.into();
        let changes = CleanupChanges {
            status: r.status,
            reason: reason.map(present),
            owner: owner.map(present),
            description: r.description.map(Description::into_inner),
            kind: r.kind,
        };
        let model = cleanup::update(
            ctx,
            reference.get("reference")?,
            item_id.0,
            if_match.0.as_deref(),
            changes,
        )
        .await?;
        let item = CleanupItem::from(model);
        let tag = etag(item.version);
        Ok(CleanupItemUpdated::Ok(Json(item), tag))
    }
}
