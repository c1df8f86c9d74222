//! `/tokens`: API token management (admin scope).

use chrono::{DateTime, Utc};
use poem::web::Data;
use poem_openapi::{ApiResponse, Object, OpenApi, param::Path, payload::Json};
use serde::Deserialize;
use uuid::Uuid;

use super::{ApiJson, ApiTags, TokenAuth};
use crate::{
    api::problem::ApiResult,
    domain::{Name, Scope},
    entities::api_token,
    services::{Context, tokens},
};

/// An API token (never its secret).
#[derive(Debug, Clone, Object)]
pub struct ApiToken {
    /// Unique id.
    pub id: Uuid,
    /// What the token is for.
    pub name: String,
    /// What it may do.
    pub scope: Scope,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it was last used (to the hour).
    #[oai(nullable)]
    pub last_used_at: Option<DateTime<Utc>>,
    /// When it was revoked, if it was.
    #[oai(nullable)]
    pub revoked_at: Option<DateTime<Utc>>,
}

impl From<api_token::Model> for ApiToken {
    fn from(m: api_token::Model) -> Self {
        Self {
            id: m.id,
            name: m.name,
            scope: m.scope,
            created_at: m.created_at,
            last_used_at: m.last_used_at,
            revoked_at: m.revoked_at,
        }
    }
}

/// A new token.
#[derive(Debug, Clone, Object, Deserialize)]
pub struct CreateTokenRequest {
    /// What the token is for, e.g. `chat-bot`.
    pub name: Name,
    /// What it may do.
    pub scope: Scope,
}

crate::serde_json_body!(CreateTokenRequest);

/// A token just created, with its secret: shown this once.
#[derive(Debug, Clone, Object)]
pub struct CreatedToken {
    #[oai(flatten)]
    pub token: ApiToken,
    /// The secret to send as `Authorization: Bearer <token>`. Store it now:
    /// Debrief keeps only its hash.
    pub secret: String,
}

/// Every token.
#[derive(Debug, Clone, Object)]
pub struct ApiTokenList {
    /// The tokens, oldest first (the list is always complete).
    pub items: Vec<ApiToken>,
    /// Always absent: the list is not paged.
    #[oai(nullable)]
    pub next_cursor: Option<String>,
}

#[derive(ApiResponse)]
pub enum TokenCreated {
    /// The token and its secret.
    #[oai(status = 201)]
    Created(Json<CreatedToken>),
}

#[derive(ApiResponse)]
pub enum TokensListed {
    /// The tokens.
    #[oai(status = 200)]
    Ok(Json<ApiTokenList>),
}

#[derive(ApiResponse)]
pub enum TokenRevoked {
    /// The token, now revoked.
    #[oai(status = 200)]
    Ok(Json<ApiToken>),
}

pub struct TokensApi;

#[OpenApi(tag = "ApiTags::Tokens")]
impl TokensApi {
    /// Create an API token
    ///
    /// The secret is in this response and nowhere else.
    #[oai(path = "/tokens", method = "post", operation_id = "create_token")]
    async fn create_token(
        &self,
        auth: TokenAuth,
        Data(ctx): Data<&Context>,
        body: ApiJson<CreateTokenRequest>,
    ) -> ApiResult<TokenCreated> {
        auth.require(Scope::Admin)?;
        let (model, secret) = tokens::create(
            &ctx.db,
            ctx.now(),
            body.0.name.as_str().trim(),
            body.0.scope,
        )
        .await?;
        Ok(TokenCreated::Created(Json(CreatedToken {
            token: model.into(),
            secret,
        })))
    }

    /// List API tokens
    #[oai(path = "/tokens", method = "get", operation_id = "list_tokens")]
    async fn list_tokens(
        &self,
        auth: TokenAuth,
        Data(ctx): Data<&Context>,
    ) -> ApiResult<TokensListed> {
        auth.require(Scope::Admin)?;
        let items = tokens::list(&ctx.db)
            .await?
            .into_iter()
            .map(ApiToken::from)
            .collect();
        Ok(TokensListed::Ok(Json(ApiTokenList {
            items,
            next_cursor: None,
        })))
    }

    /// Revoke an API token
    #[oai(
        path = "/tokens/:token_id",
        method = "delete",
        operation_id = "revoke_token"
    )]
    async fn revoke_token(
        &self,
        auth: TokenAuth,
        Data(ctx): Data<&Context>,
        /// The token's id.
        token_id: Path<Uuid>,
    ) -> ApiResult<TokenRevoked> {
        auth.require(Scope::Admin)?;
        let model = tokens::revoke(&ctx.db, ctx.now(), token_id.0).await?;
        ctx.cache.forget_tokens();
        Ok(TokenRevoked::Ok(Json(model.into())))
    }
}
