//! API tokens: created once, shown once, stored as a SHA-256 hash.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use rand::RngCore;
use sea_orm::{
    ColumnTrait, DatabaseConnection, EntityTrait, IntoActiveModel, PaginatorTrait, QueryFilter,
    QueryOrder, sea_query::Expr,
};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::{Context, ServiceError, insert_model, new_id};
use crate::{domain::Scope, entities::api_token};

/// Every token starts with this, so a leaked one is easy to recognise.
pub const TOKEN_PREFIX: &str = "dbf_";

pub fn hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

fn generate_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!("{TOKEN_PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes))
}

/// Create a token; the secret is returned here and never again.
pub async fn create(
    db: &DatabaseConnection,
    now: chrono::DateTime<chrono::Utc>,
    name: &str,
    scope: Scope,
) -> Result<(api_token::Model, String), ServiceError> {
    let secret = generate_secret();
    let model = api_token::Model {
        id: new_id(),
        name: name.to_string(),
        scope,
        token_hash: hash(&secret),
        last_used_at: None,
        revoked_at: None,
        created_at: now,
        updated_at: now,
    };
    insert_model(db, model.clone().into_active_model()).await?;
    tracing::info!(token.id = %model.id, token.name = name, token.scope = %scope, "API token created");
    Ok((model, secret))
}

/// How stale `last_used_at` may get before a use writes it again: often
/// enough to spot unused tokens, rarely enough to keep reads free of writes.
const LAST_USED_RESOLUTION: chrono::TimeDelta = chrono::TimeDelta::hours(1);

/// The live token with this secret, if any.
pub async fn authenticate(
    ctx: &Context,
    secret: &str,
) -> Result<Option<(api_token::Model, Scope)>, ServiceError> {
    if !secret.starts_with(TOKEN_PREFIX) {
        return Ok(None);
    }
    let hash = hash(secret);
    let token = ctx
        .cache
        .token(&hash, || async {
            Ok(api_token::Entity::find()
                .filter(api_token::Column::TokenHash.eq(hash.as_str()))
                .filter(api_token::Column::RevokedAt.is_null())
                .one(&ctx.db)
                .await?)
        })
        .await?;
    let now = ctx.now();
    if let Some(t) = &token
        && t.last_used_at
            .is_none_or(|at| now - at >= LAST_USED_RESOLUTION)
    {
        // Recorded off the request's path: a read never writes, and no
        // request waits for this bookkeeping (nor fails with it).
        ctx.cache.token_used(&hash, now);
        let (ctx, id) = (ctx.clone(), t.id);
        tokio::spawn(async move {
            if let Err(err) = record_use(&ctx, id, now).await {
                tracing::warn!(token.id = %id, error = %err, "cannot record the token's last use");
            }
        });
    }
    Ok(token.map(|t| {
        let scope = t.scope;
        (t, scope)
    }))
}

/// Store when a token was last used.
async fn record_use(
    ctx: &Context,
    id: Uuid,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(), ServiceError> {
    let txn = ctx.begin_write().await?;
    api_token::Entity::update_many()
        .col_expr(api_token::Column::LastUsedAt, Expr::value(now))
        .filter(api_token::Column::Id.eq(id))
        .exec(&txn)
        .await?;
    txn.commit().await?;
    Ok(())
}

pub async fn count(db: &DatabaseConnection) -> Result<u64, ServiceError> {
    Ok(api_token::Entity::find().count(db).await?)
}

pub async fn list(db: &DatabaseConnection) -> Result<Vec<api_token::Model>, ServiceError> {
    Ok(api_token::Entity::find()
        .order_by_asc(api_token::Column::CreatedAt)
        .all(db)
        .await?)
}

/// Revoke a token; revoking twice is harmless.
pub async fn revoke(
    db: &DatabaseConnection,
    now: chrono::DateTime<chrono::Utc>,
    id: Uuid,
) -> Result<api_token::Model, ServiceError> {
    let token = api_token::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or_else(|| ServiceError::NotFound(format!("token {id}")))?;
    if token.revoked_at.is_some() {
        return Ok(token);
    }
    api_token::Entity::update_many()
        .col_expr(api_token::Column::RevokedAt, Expr::value(now))
        .col_expr(api_token::Column::UpdatedAt, Expr::value(now))
        .filter(api_token::Column::Id.eq(id))
        .exec(db)
        .await?;
    tracing::info!(token.id = %id, "API token revoked");
    Ok(api_token::Model {
        revoked_at: Some(now),
        updated_at: now,
        ..token
    })
}

/// Revoke a token named by its id or, failing that, by its name: the one
/// live token of that name (none, or several, is an error saying so).
pub async fn revoke_by_id_or_name(
    db: &DatabaseConnection,
    now: chrono::DateTime<chrono::Utc>,
    token: &str,
) -> Result<api_token::Model, ServiceError> {
    if let Ok(id) = token.trim().parse::<Uuid>()
        && api_token::Entity::find_by_id(id).one(db).await?.is_some()
    {
        return revoke(db, now, id).await;
    }
    let named = api_token::Entity::find()
        .filter(api_token::Column::Name.eq(token))
        .filter(api_token::Column::RevokedAt.is_null())
        .order_by_asc(api_token::Column::CreatedAt)
        .all(db)
        .await?;
    match named.as_slice() {
        [] => Err(ServiceError::NotFound(format!(
            "live token with the id or name {token:?}"
        ))),
        [one] => revoke(db, now, one.id).await,
        several => Err(ServiceError::conflict(format!(
            "{} live tokens are named {token:?}; revoke one by its id: {}",
            several.len(),
            several
                .iter()
                .map(|t| t.id.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}
