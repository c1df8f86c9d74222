//! `/remediations/{ref}/tracker`: link a remediation item to an existing
//! issue of a configured tracker, or unlink it (the sync itself is
//! `services::tracker_sync`).

use poem::web::Data;
use poem_openapi::{Object, OpenApi, param::Path};
use serde::Deserialize;

use super::{
    ApiJson, ApiTags, TokenAuth,
    params::RemediationParam,
    remediations::{RemediationChanged, changed},
};
use crate::{
    api::problem::ApiResult,
    domain::{HttpUrl, Scope},
    services::{Context, remediations},
};

/// The issue to link.
#[derive(Debug, Clone, Object, Deserialize)]
pub struct LinkTrackerRequest {
    /// The address in a configured tracker, e.g.
    /// `https://github.com/acme/ops/issues/12`.
    pub url: HttpUrl,
}

crate::serde_json_body!(LinkTrackerRequest);

pub struct TrackersApi;

#[OpenApi(tag = "ApiTags::Remediations")]
impl TrackersApi {
    /// Link an existing tracker issue
    ///
    /// The item is synced with that issue from now on: its `tracker`,
    /// `tracker_key` and `tracker_url` are set, and in the background the
    /// issue is brought in step with the item (title, state, due date,
    /// assignee), as a created one is. A URL that is
    /// not an issue of a configured tracker is a 422 naming `url`; an item
    /// linked to another issue, or an issue linked to another item, a 409.
    #[oai(
        path = "/remediations/:remediation/tracker",
        method = "post",
        operation_id = "link_remediation_tracker"
    )]
    async fn link_remediation_tracker(
        &self,
        auth: TokenAuth,
        Data(ctx): Data<&Context>,
        /// The item's UUID or `REM-n` reference.
        remediation: Path<RemediationParam>,
        body: ApiJson<LinkTrackerRequest>,
    ) -> ApiResult<RemediationChanged> {
        let actor = auth.require(Scope::Write)?.token_name.clone();
        let reference = remediation.get("remediation")?;
        let url = body.0.url.into_inner();
        let view = remediations::link_tracker(ctx, reference, &url, &actor).await?;
        Ok(changed(view)?)
    }

    /// Unlink the tracker issue
    ///
    /// The item is no longer synced; the issue is left as it is. 404 when the
    /// item has no tracker issue.
    #[oai(
        path = "/remediations/:remediation/tracker",
        method = "delete",
        operation_id = "unlink_remediation_tracker"
    )]
    async fn unlink_remediation_tracker(
        &self,
        auth: TokenAuth,
        Data(ctx): Data<&Context>,
        /// The item's UUID or `REM-n` reference.
        remediation: Path<RemediationParam>,
    ) -> ApiResult<RemediationChanged> {
        let actor = auth.require(Scope::Write)?.token_name.clone();
        let reference = remediation.get("remediation")?;
        let view = remediations::unlink_tracker(ctx, reference, &actor).await?;
        Ok(changed(view)?)
    }
}
