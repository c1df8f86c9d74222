//! `/incidents/{reference}/channels`: where an incident's sitreps are sent.

use chrono::{DateTime, Utc};
use poem::web::Data;
use poem_openapi::{ApiResponse, Enum, Object, OpenApi, param::Path, payload::Json};
use serde::Deserialize;
use uuid::Uuid;

use super::{ApiJson, ApiTags, TokenAuth, params::IncidentParam};
use crate::{
    domain::Scope,
    entities::incident_channel,
    error::ApiResult,
    services::{
        Context,
        channels::{self, ChannelKind, NewChannel},
    },
};

/// The kind of a channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum, Deserialize)]
#[oai(rename_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum ChannelKindParam {
    /// An e-mail address: each sitrep is mailed as text.
    Email,
    /// A Slack-compatible incoming webhook: each sitrep is POSTed as `{"text": …}`.
    Webhook,
}

impl From<ChannelKindParam> for ChannelKind {
    fn from(k: ChannelKindParam) -> Self {
        match k {
            ChannelKindParam::Email => ChannelKind::Email,
            ChannelKindParam::Webhook => ChannelKind::Webhook,
        }
    }
}

/// A channel an incident's sitreps go to.
#[derive(Debug, Clone, Object)]
pub struct Channel {
    /// Unique id.
    pub id: Uuid,
    /// `email` or `webhook`.
    pub kind: String,
    /// The e-mail address or webhook URL.
    pub target: String,
    /// When it was added.
    pub created_at: DateTime<Utc>,
}

impl From<incident_channel::Model> for Channel {
    fn from(m: incident_channel::Model) -> Self {
        Self {
            id: m.id,
            kind: m.kind,
            target: m.target,
            created_at: m.created_at,
        }
    }
}

/// A new channel.
#[derive(Debug, Clone, Object, Deserialize)]
pub struct CreateChannelRequest {
    /// `email` or `webhook`.
    pub kind: ChannelKindParam,
    /// An e-mail address, or an http(s) webhook URL.
    #[oai(validator(min_length = 1, max_length = 2000))]
    pub target: String,
}

crate::serde_json_body!(CreateChannelRequest);

/// An incident's channels.
#[derive(Debug, Clone, Object)]
pub struct ChannelList {
    /// Every channel, oldest first (the list is always complete).
    pub items: Vec<Channel>,
    /// Always absent: the list is not paged.
    #[oai(nullable)]
    pub next_cursor: Option<String>,
}

#[derive(ApiResponse)]
pub enum ChannelCreated {
    /// The channel; sitreps issued from now on go to it.
    #[oai(status = 201)]
    Created(Json<Channel>),
}

#[derive(ApiResponse)]
pub enum ChannelsListed {
    /// The channels.
    #[oai(status = 200)]
    Ok(Json<ChannelList>),
}

#[derive(ApiResponse)]
pub enum ChannelRemoved {
    /// Removed; deliveries already queued still go out.
    #[oai(status = 204)]
    NoContent,
}

pub struct ChannelsApi;

#[OpenApi(tag = "ApiTags::Channels")]
impl ChannelsApi {
    /// Add a notification channel
    ///
    /// Every sitrep version issued afterwards is queued for this channel in
    /// the outbox, in the sitrep's own transaction. The same target twice
    /// is a 409.
    #[oai(
        path = "/incidents/:reference/channels",
        method = "post",
        operation_id = "create_channel"
    )]
    async fn create_channel(
        &self,
        auth: TokenAuth,
        Data(ctx): Data<&Context>,
        /// The incident's UUID or `INC-n` reference.
        reference: Path<IncidentParam>,
        body: ApiJson<CreateChannelRequest>,
    ) -> ApiResult<ChannelCreated> {
        auth.require(Scope::Write)?;
        let new = NewChannel::parse(body.0.kind.into(), &body.0.target)?;
        let channel = channels::add(ctx, reference.get("reference")?, new).await?;
        Ok(ChannelCreated::Created(Json(channel.into())))
    }

    /// List notification channels
    #[oai(
        path = "/incidents/:reference/channels",
        method = "get",
        operation_id = "list_channels"
    )]
    async fn list_channels(
        &self,
        auth: TokenAuth,
        Data(ctx): Data<&Context>,
        /// The incident's UUID or `INC-n` reference.
        reference: Path<IncidentParam>,
    ) -> ApiResult<ChannelsListed> {
        auth.require(Scope::Read)?;
        let items = channels::list(ctx, reference.get("reference")?)
            .await?
            .into_iter()
            .map(Channel::from)
            .collect();
        Ok(ChannelsListed::Ok(Json(ChannelList {
            items,
            next_cursor: None,
        })))
    }

    /// Remove a notification channel
    #[oai(
        path = "/incidents/:reference/channels/:id",
        method = "delete",
        operation_id = "delete_channel"
    )]
    async fn delete_channel(
        &self,
        auth: TokenAuth,
        Data(ctx): Data<&Context>,
        /// The incident's UUID or `INC-n` reference.
        reference: Path<IncidentParam>,
        /// The channel's id.
        id: Path<Uuid>,
    ) -> ApiResult<ChannelRemoved> {
        auth.require(Scope::Write)?;
        channels::remove(ctx, reference.get("reference")?, id.0).await?;
        Ok(ChannelRemoved::NoContent)
    }
}
