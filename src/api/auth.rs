//! Bearer-token authentication and scope checks.

use poem::Request;
use poem_openapi::{SecurityScheme, auth::Bearer};
use uuid::Uuid;

use crate::{
    domain::Scope,
    services::{Context, ServiceError, tokens},
};

/// Who is calling.
#[derive(Debug, Clone)]
pub struct Principal {
    pub token_id: Uuid,
    pub token_name: String,
    pub scope: Scope,
}

/// `Authorization: Bearer <token>`: a token created with `debrief token
/// create` or `POST /api/v1/tokens`.
#[derive(SecurityScheme)]
#[oai(ty = "bearer", bearer_format = "opaque", checker = "check_token")]
pub struct TokenAuth(pub Principal);

impl TokenAuth {
    /// Fail with 403 unless the token's scope includes `needed`.
    pub fn require(&self, needed: Scope) -> Result<&Principal, ServiceError> {
        if self.0.scope.allows(needed) {
            Ok(&self.0)
        } else {
            Err(ServiceError::Forbidden(needed.as_str()))
        }
    }
}

async fn check_token(req: &Request, bearer: Bearer) -> poem::Result<Principal> {
    let ctx = req.data::<Context>().ok_or_else(|| {
        poem::Error::from_string(
            "context missing",
            poem::http::StatusCode::INTERNAL_SERVER_ERROR,
        )
    })?;
    match tokens::authenticate(ctx, &bearer.token).await {
        Ok(Some((token, scope))) => Ok(Principal {
            token_id: token.id,
            token_name: token.name,
            scope,
        }),
        Ok(None) => Err(poem_openapi::error::AuthorizationError.into()),
        Err(err) => {
            let problem = super::problem::Problem::from(err);
            Err(poem::Error::from_response(problem.into_poem_response()))
        }
    }
}
