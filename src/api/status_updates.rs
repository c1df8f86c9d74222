//! `/incidents/{reference}/status-updates`: what the public was told.

use chrono::{DateTime, Utc};
use poem::web::Data;
use poem_openapi::{ApiResponse, Object, OpenApi, param::Path, payload::Json};
use serde::Deserialize;
use uuid::Uuid;

use super::{ApiJson, ApiTags, TokenAuth, params::IncidentParam, text::entries};
use crate::{
    api::problem::ApiResult,
    clock::micros,
    domain::{ListEntry, PublicStatus, Scope, StatusMessage},
    entities::status_update,
    services::{
        Context, ServiceError,
        status_updates::{self, NewStatusUpdate},
    },
};

/// A public status update.
#[derive(Debug, Clone, Object)]
pub struct StatusUpdate {
    /// Unique id.
    pub id: Uuid,
    /// The incident.
    pub incident_id: Uuid,
    /// The status shown to the public.
    pub status: PublicStatus,
    /// The message (Markdown).
    pub message: String,
    /// Components named in the update.
    pub affected_components: Vec<String>,
    /// When it was posted.
    pub posted_at: DateTime<Utc>,
    /// When Debrief stored it.
    pub created_at: DateTime<Utc>,
}

impl From<status_update::Model> for StatusUpdate {
    fn from(m: status_update::Model) -> Self {
        Self {
            id: m.id,
            incident_id: m.incident_id,
            status: m.status,
            message: m.message,
            affected_components: m.affected_components.into(),
            posted_at: m.posted_at,
            created_at: m.created_at,
        }
    }
}

/// A public status update to post.
#[derive(Debug, Clone, Object, Deserialize)]
pub struct CreateStatusUpdateRequest {
    /// The status shown to the public.
    pub status: PublicStatus,
    /// The message (Markdown, up to 20,000 characters).
    pub message: StatusMessage,
    /// Components named in the update.
    #[oai(nullable)]
    pub affected_components: Option<Vec<ListEntry>>,
    /// When it was posted; now when absent.
    #[oai(nullable)]
    pub posted_at: Option<DateTime<Utc>>,
}

crate::serde_json_body!(CreateStatusUpdateRequest);

impl CreateStatusUpdateRequest {
    /// Check it; `prefix` locates it inside a larger body.
    pub fn into_new(self, prefix: &str) -> Result<NewStatusUpdate, ServiceError> {
        Ok(NewStatusUpdate {
            status: self.status,
            message: self.message.into_inner(),
            affected_components: entries(
                &format!("{prefix}affected_components"),
                self.affected_components,
                100,
            )?,
            posted_at: self.posted_at.map(micros),
        })
    }
}

/// Every status update of an incident, oldest first.
#[derive(Debug, Clone, Object)]
pub struct StatusUpdateList {
    /// The status updates (the list is always complete).
    pub items: Vec<StatusUpdate>,
    /// Always absent: the list is not paged.
    #[oai(nullable)]
    pub next_cursor: Option<String>,
}

#[derive(ApiResponse)]
pub enum StatusUpdatePosted {
    /// The status update was stored.
    #[oai(status = 201)]
    Created(Json<StatusUpdate>),
}

#[derive(ApiResponse)]
pub enum StatusUpdatesListed {
    /// The status updates.
    #[oai(status = 200)]
    Ok(Json<StatusUpdateList>),
}

pub struct StatusUpdatesApi;

#[OpenApi(tag = "ApiTags::StatusUpdates")]
impl StatusUpdatesApi {
    /// Post a public status update
    ///
    /// Moves the incident's `last_customer_update_at` forward, which clears
    /// `customer_update_overdue`.
    #[oai(
        path = "/incidents/:reference/status-updates",
        method = "post",
        operation_id = "create_status_update"
    )]
    async fn create_status_update(
        &self,
        auth: TokenAuth,
        Data(ctx): Data<&Context>,
        /// The incident's UUID or `INC-n` reference.
        reference: Path<IncidentParam>,
        body: ApiJson<CreateStatusUpdateRequest>,
    ) -> ApiResult<StatusUpdatePosted> {
        auth.require(Scope::Write)?;
        let new = body.0.into_new("")?;
        let model = status_updates::create(ctx, reference.get("reference")?, new).await?;
        Ok(StatusUpdatePosted::Created(Json(model.into())))
    }

    /// List public status updates
    #[oai(
        path = "/incidents/:reference/status-updates",
        method = "get",
        operation_id = "list_status_updates"
    )]
    async fn list_status_updates(
        &self,
        auth: TokenAuth,
        Data(ctx): Data<&Context>,
        /// The incident's UUID or `INC-n` reference.
        reference: Path<IncidentParam>,
    ) -> ApiResult<StatusUpdatesListed> {
        auth.require(Scope::Read)?;
        let items = status_updates::list(ctx, reference.get("reference")?)
            .await?
            .into_iter()
            .map(StatusUpdate::from)
            .collect();
        Ok(StatusUpdatesListed::Ok(Json(StatusUpdateList {
            items,
            next_cursor: None,
        })))
    }
}
