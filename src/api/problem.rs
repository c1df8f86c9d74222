//! The one place errors become HTTP: every [`ServiceError`], and every error
//! poem or poem-openapi raises, becomes one JSON problem body (RFC 9457,
//! `application/problem+json`) with its status.

use poem::{IntoResponse, Response, http::StatusCode};
use poem_openapi::{ApiResponse, Object, payload::Json};
use sea_orm::DbErr;

use crate::{
    domain::Invalid,
    services::{ConflictDetails, ServiceError},
};

/// An RFC 9457 problem body.
#[derive(Debug, Clone, Object, serde::Serialize)]
pub struct Problem {
    /// A URI reference naming the kind of problem, e.g. `/problems/validation`.
    #[oai(rename = "type")]
    #[serde(rename = "type")]
    pub problem_type: String,
    /// A short summary of the kind of problem.
    pub title: String,
    /// The HTTP status code.
    pub status: u16,
    /// What exactly went wrong, in words.
    pub detail: String,
    /// The request field (body property, query or path parameter, or header)
    /// at fault, where there is one. Nested body fields are written as a
    /// path: `events[3].occurred_at`.
    #[oai(skip_serializing_if_is_none)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// For a 409 on closing an incident: the cleanup items still pending.
    #[oai(skip_serializing_if_is_none)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pending_cleanup_items: Option<Vec<String>>,
    /// For a 412: the resource's current version.
    #[oai(skip_serializing_if_is_none)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current_version: Option<i32>,
}

impl Problem {
    pub fn new(status: StatusCode, detail: impl Into<String>) -> Self {
        let (slug, title) = describe(status);
        Self {
            problem_type: format!("/problems/{slug}"),
            title: title.to_string(),
            status: status.as_u16(),
            detail: detail.into(),
            field: None,
            pending_cleanup_items: None,
            current_version: None,
        }
    }

    pub fn with_field(mut self, field: Option<String>) -> Self {
        self.field = field;
        self
    }

    pub fn into_poem_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = serde_json::to_vec(&self).unwrap_or_default();
        Response::builder()
            .status(status)
            .content_type("application/problem+json")
            .body(body)
    }
}

fn describe(status: StatusCode) -> (&'static str, &'static str) {
    match status.as_u16() {
        400 => ("bad-request", "Bad request"),
        401 => ("unauthorized", "Authentication required"),
        403 => ("forbidden", "Forbidden"),
        404 => ("not-found", "Not found"),
        405 => ("method-not-allowed", "Method not allowed"),
        406 => ("not-acceptable", "Not acceptable"),
        408 => ("request-timeout", "Request timeout"),
        409 => ("conflict", "Conflict"),
        412 => ("precondition-failed", "Precondition failed"),
        413 => ("payload-too-large", "Request body too large"),
        415 => ("unsupported-media-type", "Unsupported media type"),
        422 => ("validation", "Validation failed"),
        428 => ("precondition-required", "Precondition required"),
        503 => ("unavailable", "Service unavailable"),
        s if s >= 500 => ("internal", "Internal server error"),
        _ => ("error", "Request failed"),
    }
}

/// The error responses every operation may give, as documented in the spec.
#[derive(Debug, ApiResponse)]
pub enum ApiError {
    /// The request cannot be read: the body is not JSON (malformed, empty), or
    /// a header cannot be read (`If-Match`).
    #[oai(status = 400, content_type = "application/problem+json")]
    BadRequest(Json<Problem>),
    /// No valid bearer token (`WWW-Authenticate: Bearer`).
    #[oai(status = 401, content_type = "application/problem+json")]
    Unauthorized(Json<Problem>),
    /// The token lacks the scope this operation needs.
    #[oai(status = 403, content_type = "application/problem+json")]
    Forbidden(Json<Problem>),
    /// The resource does not exist.
    #[oai(status = 404, content_type = "application/problem+json")]
    NotFound(Json<Problem>),
    /// The request conflicts with the resource's state.
    #[oai(status = 409, content_type = "application/problem+json")]
    Conflict(Json<Problem>),
    /// `If-Match` named an older version.
    #[oai(status = 412, content_type = "application/problem+json")]
    PreconditionFailed(Json<Problem>),
    /// The request body stopped arriving (`limits.body_timeout_seconds`).
    #[oai(status = 408, content_type = "application/problem+json")]
    RequestTimeout(Json<Problem>),
    /// The request body is larger than the configured limit.
    #[oai(status = 413, content_type = "application/problem+json")]
    PayloadTooLarge(Json<Problem>),
    /// The request body is not JSON.
    #[oai(status = 415, content_type = "application/problem+json")]
    UnsupportedMediaType(Json<Problem>),
    /// Well-formed but invalid, in the body, a path or a query parameter
    /// alike: an unknown field, `null` where it cannot be, a wrong type, a
    /// value out of range or not allowed, a broken rule. `field` names it,
    /// `detail` says what is allowed.
    #[oai(status = 422, content_type = "application/problem+json")]
    Unprocessable(Json<Problem>),
    /// Something failed on our side; the cause is in the service's log.
    #[oai(status = 500, content_type = "application/problem+json")]
    Internal(Json<Problem>),
    /// The database is unreachable, or too many renders are queued
    /// (`Retry-After` says when to try again).
    #[oai(status = 503, content_type = "application/problem+json")]
    Unavailable(
        Json<Problem>,
        /// Seconds to wait before trying again.
        #[oai(header = "Retry-After")]
        Option<u64>,
    ),
}

impl ApiError {
    pub fn from_problem(problem: Problem) -> Self {
        let body = Json(problem);
        match body.status {
            400 => Self::BadRequest(body),
            401 => Self::Unauthorized(body),
            403 => Self::Forbidden(body),
            404 => Self::NotFound(body),
            409 => Self::Conflict(body),
            408 => Self::RequestTimeout(body),
            412 => Self::PreconditionFailed(body),
            413 => Self::PayloadTooLarge(body),
            415 => Self::UnsupportedMediaType(body),
            422 => Self::Unprocessable(body),
            503 => Self::Unavailable(body, None),
            _ => Self::Internal(body),
        }
    }
}

impl From<ServiceError> for ApiError {
    fn from(err: ServiceError) -> Self {
        let retry_after = match &err {
            ServiceError::Busy {
                retry_after_seconds,
                ..
            } => Some(*retry_after_seconds),
            _ => None,
        };
        match Self::from_problem(Problem::from(err)) {
            Self::Unavailable(body, _) => Self::Unavailable(body, retry_after),
            other => other,
        }
    }
}

/// A domain value that does not hold, met in a handler: a validation error.
impl From<Invalid> for ApiError {
    fn from(err: Invalid) -> Self {
        Self::from(ServiceError::from(err))
    }
}

impl From<ServiceError> for Problem {
    fn from(err: ServiceError) -> Self {
        match err {
            ServiceError::Validation { field, detail } => {
                Problem::new(StatusCode::UNPROCESSABLE_ENTITY, detail).with_field(Some(field))
            }
            ServiceError::BadRequest { field, detail } => {
                Problem::new(StatusCode::BAD_REQUEST, detail).with_field(field)
            }
            ServiceError::NotFound(what) => {
                Problem::new(StatusCode::NOT_FOUND, format!("{what} not found"))
            }
            ServiceError::Conflict {
                detail,
                field,
                details,
            } => {
                let mut problem = Problem::new(StatusCode::CONFLICT, detail).with_field(field);
                if let Some(ConflictDetails::PendingCleanupItems(ids)) = details
                    && !ids.is_empty()
                {
                    problem.pending_cleanup_items =
                        Some(ids.iter().map(ToString::to_string).collect());
                }
                problem
            }
            err @ ServiceError::PreconditionFailed { current, .. } => {
                let mut problem = Problem::new(StatusCode::PRECONDITION_FAILED, err.to_string())
                    .with_field(Some("If-Match".into()));
                problem.current_version = Some(current);
                problem
            }
            ServiceError::Unauthenticated(detail) => Problem::new(StatusCode::UNAUTHORIZED, detail),
            err @ ServiceError::Forbidden(_) => {
                Problem::new(StatusCode::FORBIDDEN, err.to_string())
            }
            ServiceError::Busy { detail, .. } => {
                Problem::new(StatusCode::SERVICE_UNAVAILABLE, detail)
            }
            ServiceError::Database(err) => database_problem(&err),
            ServiceError::Internal(err) => {
                tracing::error!(error = ?err, "Request failed");
                Problem::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "an internal error occurred; it has been logged",
                )
            }
        }
    }
}

fn database_problem(err: &DbErr) -> Problem {
    let unavailable = matches!(err, DbErr::ConnectionAcquire(_) | DbErr::Conn(_));
    tracing::error!(error = %err, "Database error");
    if unavailable {
        Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "the database is unavailable",
        )
    } else {
        Problem::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "an internal error occurred; it has been logged",
        )
    }
}

/// The last stop for every error on the way out: anything that is not already
/// a problem response becomes one, naming the parameter at fault where poem
/// knows it.
pub async fn problem_from_poem_error(err: poem::Error) -> Response {
    if err.is_from_response() {
        return err.into_response();
    }
    let status = err.status();
    let mut field = None;
    let detail = if let Some(e) = err.downcast_ref::<poem_openapi::error::ParseParamError>() {
        field = Some(e.name.to_string());
        if e.name.eq_ignore_ascii_case("If-Match") {
            // Its pattern says it to a program; a person gets it in words.
            "`If-Match` must be `*` or the ETag of a version you read, like `\"3\"` \
             (several may be given, separated by commas)"
                .to_string()
        } else {
            format!("parameter `{}` is invalid: {}", e.name, e.reason)
        }
    } else if let Some(e) = err.downcast_ref::<poem_openapi::error::ParsePathError>() {
        field = Some(e.name.to_string());
        format!("path parameter `{}` is invalid: {}", e.name, e.reason)
    } else if let Some(e) = err.downcast_ref::<poem_openapi::error::ParseRequestPayloadError>() {
        field = Some("body".into());
        format!("the request body is invalid: {}", e.reason)
    } else if err.is::<poem_openapi::error::AuthorizationError>() {
        field = Some("Authorization".into());
        "a valid `Authorization: Bearer <token>` header is required".to_string()
    } else if err.is::<poem_openapi::error::ContentTypeError>() {
        field = Some("Content-Type".into());
        format!("{err}; send `application/json`")
    } else if status == StatusCode::NOT_FOUND {
        "no such resource or route".to_string()
    } else if status == StatusCode::METHOD_NOT_ALLOWED {
        "this method is not allowed on this resource".to_string()
    } else if status == StatusCode::PAYLOAD_TOO_LARGE {
        "the request body is larger than the configured limit".to_string()
    } else if status.is_server_error() {
        tracing::error!(error = %err, "Request failed");
        "an internal error occurred; it has been logged".to_string()
    } else {
        err.to_string()
    };
    Problem::new(status, detail)
        .with_field(field)
        .into_poem_response()
}

/// `Result` of an API operation.
pub type ApiResult<T> = Result<T, ApiError>;

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        self.into_poem_response()
    }
}
