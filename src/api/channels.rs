//! `/incidents/{reference}/channels`: where an incident's sitreps are sent.

use chrono::{DateTime, Utc};
use poem::web::Data;
use poem_openapi::{ApiResponse, Enum, Object, OpenApi, param::Path, payload::Json};
use serde::Deserialize;
use uuid::Uuid;

use super::{ApiJson, ApiTags, TokenAuth, params::IncidentParam};
use crate::{
    api::problem::ApiResult,
    domain::{ChannelKind, ChannelTarget, Scope},
    entities::incident_channel,
    notify::webhook::masked_target,
    services::{
        Context,
        channels::{self, NewChannel},
    },
};

/// The kind of a channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum, Deserialize)]
#[oai(rename_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum ChannelKindParam {
    /// An e-mail address: each sitrep is mailed as text.
    Email,
    /// A Slack-compatible incoming webhook: each sitrep is POSTed as
    /// `{"text": …}`, signed in a `Debrief-Signature` header.
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
    /// The e-mail address or webhook URL. A token with only the `read`
    /// scope sees webhook URLs masked to scheme, host and port
    /// (`https://hooks.slack.com/…`): their path often is their password.
    pub target: String,
    /// Webhooks only, and only in the answer that created the channel: the
    /// secret its calls are signed with (`Debrief-Signature` header; see
    /// the README). It is never shown again.
    #[oai(skip_serializing_if_is_none)]
    pub signing_secret: Option<String>,
    /// When it was added.
    pub created_at: DateTime<Utc>,
}

impl Channel {
    /// The channel as a token of `scope` may see it, without its secret.
    fn shown_to(m: incident_channel::Model, scope: Scope) -> Self {
        let masked = m.kind == ChannelKind::Webhook && !scope.allows(Scope::Write);
        Self {
            id: m.id,
            target: if masked {
                masked_target(&m.target)
            } else {
                m.target
            },
            kind: m.kind.to_string(),
            signing_secret: None,
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
    pub target: ChannelTarget,
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
    /// The channel; sitreps issued from now on go to it. A webhook
    /// channel's answer carries its `signing_secret`, shown this once.
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
    /// Removed; e-mails already queued still go out, webhook calls already
    /// queued are given up (their signing secret went with the channel).
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
    /// is a 409. A webhook URL whose host is, or resolves to, a loopback,
    /// private, link-local, multicast or reserved address is a 422 naming
    /// `target`, unless the server's `webhooks.allow_addresses` allows it;
    /// every call checks again where the name resolves then. The answer
    /// holds the webhook's signing secret, shown only here.
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
        let scope = auth.require(Scope::Write)?.scope;
        let new = NewChannel::parse(body.0.kind.into(), body.0.target)?;
        let channel = channels::add(ctx, reference.get("reference")?, new).await?;
        let secret = (channel.kind == ChannelKind::Webhook)
            .then(|| channel.signing_secret.expose().to_string());
        Ok(ChannelCreated::Created(Json(Channel {
            signing_secret: secret,
            ..Channel::shown_to(channel, scope)
        })))
    }

    /// List notification channels
    ///
    /// With a `read`-scope token, webhook URLs are masked to scheme, host
    /// and port; `write` and `admin` tokens see them whole. Signing secrets
    /// are never listed.
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
        let scope = auth.require(Scope::Read)?.scope;
        let items = channels::list(ctx, reference.get("reference")?)
            .await?
            .into_iter()
            .map(|channel| Channel::shown_to(channel, scope))
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
