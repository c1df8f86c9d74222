//! A JSON request body that reports *which field* is wrong.
//!
//! A body is read in three steps: JSON syntax (a malformed body is `400`),
//! the check against the type's schema in the published spec (unknown
//! fields, `null` where the spec does not allow it, lengths, patterns,
//! ranges, enum values: `422` naming the field, see [`super::spec`]), then
//! serde with `serde_path_to_error`, so a bad value in the 4,000th event of
//! a batch is reported as `events[3999].occurred_at` (also `422`).
//! The schema comes from the type's `Object` derive.
//!
//! A type whose own serde reading refuses everything its schema refuses
//! may be read straight from the bytes first
//! ([`JsonBody::from_valid_bytes`]): a timeline batch of 1,000 events is
//! nearly always valid, and building its JSON value, checking it and
//! reading the events out of it cost more than storing them. Any error
//! there sends the body down the three steps, which name the field.

use std::marker::PhantomData;

use poem::{Request, RequestBody, http::StatusCode};
use poem_openapi::{
    ApiExtractor, ApiExtractorType, ExtractParamOptions,
    payload::{ParsePayload, Payload},
    registry::{MetaMediaType, MetaRequest, MetaSchemaRef, Registry},
    types::{ToJSON, Type},
};
use serde::de::DeserializeOwned;

use super::problem::Problem;

/// A request body type: how to read it from a JSON value that passed its
/// schema.
pub trait JsonBody: Sized + Send {
    fn from_value(value: serde_json::Value) -> Result<Self, BodyError>;

    /// The body read straight from its bytes, for a type whose own
    /// deserialisation refuses everything its schema refuses (unknown
    /// fields, `null`s, lengths, patterns, enum values, formats, item
    /// counts): such a body needs no JSON value and no schema check.
    /// `None` when the type has no such reading, or on any error: the body
    /// is then read the checked way, which names the field.
    fn from_valid_bytes(_bytes: &[u8]) -> Option<Self> {
        None
    }
}

/// Why a body could not be read, and where.
#[derive(Debug)]
pub struct BodyError {
    pub field: String,
    pub detail: String,
    /// Not JSON at all (400), rather than JSON with a wrong value (422).
    pub malformed: bool,
}

/// Parse `bytes` as `T` with serde, locating the failing field.
pub fn parse_serde<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, BodyError> {
    // Nearly every body is valid: it is read without tracking the path
    // (which costs a key and a wrapper per value), and read again with it
    // only to say where an error is. Both readings accept the same bodies.
    if let Ok(value) = serde_json::from_slice::<T>(bytes) {
        return Ok(value);
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize::<_, T>(&mut de)
        .map_err(|err| body_error(err.path().to_string(), err.inner()))?;
    de.end().map_err(|err| body_error(String::new(), &err))?;
    Ok(value)
}

/// Parse an already-read JSON value as `T`, under the given path prefix.
pub fn parse_value<T: DeserializeOwned>(
    prefix: &str,
    value: serde_json::Value,
) -> Result<T, BodyError> {
    // As in `parse_serde`: read without tracking the path first; reading
    // from a reference keeps the value for the second, tracked reading.
    if let Ok(parsed) = T::deserialize(&value) {
        return Ok(parsed);
    }
    serde_path_to_error::deserialize::<_, T>(value).map_err(|err| {
        let path = err.path().to_string();
        let path = match (prefix.is_empty(), path.as_str()) {
            (true, _) => path,
            (false, ".") => prefix.to_string(),
            (false, p) if p.starts_with('[') => format!("{prefix}{p}"),
            (false, p) => format!("{prefix}.{p}"),
        };
        body_error(path, err.inner())
    })
}

fn body_error(path: String, inner: &serde_json::Error) -> BodyError {
    let message = inner.to_string();
    let mut field = if path == "." { String::new() } else { path };
    if inner.is_syntax() || inner.is_eof() {
        return BodyError {
            field: "body".into(),
            detail: format!("the request body is not valid JSON: {message}"),
            malformed: true,
        };
    }
    // "missing field `title`" is reported at the parent: name the field itself.
    if let Some(rest) = message.strip_prefix("missing field `")
        && let Some(name) = rest.split('`').next()
    {
        field = if field.is_empty() {
            name.to_string()
        } else {
            format!("{field}.{name}")
        };
    }
    if field.is_empty() {
        field = "body".into();
    }
    let message = message
        .split(" at line ")
        .next()
        .unwrap_or(&message)
        .to_string();
    BodyError {
        detail: format!("`{field}`: {message}"),
        field,
        malformed: false,
    }
}

/// A JSON response body serialised ahead of time, documented in the spec
/// with the schema of `T` (the type it was serialised from).
pub struct RenderedJson<T> {
    body: bytes::Bytes,
    schema: PhantomData<fn() -> T>,
}

impl<T: ToJSON> RenderedJson<T> {
    /// Serialise `value` exactly as poem-openapi's `Json<T>` would.
    pub fn render(value: &T) -> bytes::Bytes {
        serde_json::to_vec(&value.to_json())
            .expect("a JSON value always serialises")
            .into()
    }
}

impl<T> RenderedJson<T> {
    pub fn new(body: bytes::Bytes) -> Self {
        Self {
            body,
            schema: PhantomData,
        }
    }
}

impl<T: Type> Payload for RenderedJson<T> {
    const CONTENT_TYPE: &'static str = "application/json; charset=utf-8";

    fn schema_ref() -> MetaSchemaRef {
        T::schema_ref()
    }

    fn register(registry: &mut Registry) {
        T::register(registry);
    }
}

impl<T> poem::IntoResponse for RenderedJson<T> {
    fn into_response(self) -> poem::Response {
        poem::Response::builder()
            .content_type("application/json; charset=utf-8")
            .body(self.body)
    }
}

/// Implement [`JsonBody`] with plain serde for request types.
#[macro_export]
macro_rules! serde_json_body {
    ($($ty:ty),+ $(,)?) => {
        $(impl $crate::api::JsonBody for $ty {
            fn from_value(
                value: serde_json::Value,
            ) -> Result<Self, $crate::api::json::BodyError> {
                $crate::api::json::parse_value("", value)
            }
        })+
    };
}

/// A JSON request body of type `T`.
pub struct ApiJson<T>(pub T);

impl<T: Type + JsonBody> Payload for ApiJson<T> {
    const CONTENT_TYPE: &'static str = "application/json; charset=utf-8";

    fn check_content_type(content_type: &str) -> bool {
        matches!(content_type.parse::<mime::Mime>(), Ok(ct) if ct.type_() == "application"
            && (ct.subtype() == "json" || ct.suffix().is_some_and(|s| s == "json")))
    }

    fn schema_ref() -> MetaSchemaRef {
        T::schema_ref()
    }

    fn register(registry: &mut Registry) {
        T::register(registry);
    }
}

impl<T: Type + JsonBody> ParsePayload for ApiJson<T> {
    const IS_REQUIRED: bool = true;

    async fn from_request(_request: &Request, body: &mut RequestBody) -> poem::Result<Self> {
        let bytes = read_body(body).await?;
        read(&bytes).map(ApiJson)
    }
}

/// A request body's bytes as `T`, or the problem that says what is wrong
/// with them.
pub fn read<T: Type + JsonBody>(bytes: &[u8]) -> poem::Result<T> {
    match bytes.iter().find(|b| !b.is_ascii_whitespace()) {
        None => {
            return Err(problem(
                StatusCode::BAD_REQUEST,
                "body",
                "a JSON request body is required".into(),
            ));
        }
        Some(b'{') => {}
        Some(_) => {
            return Err(problem(
                StatusCode::UNPROCESSABLE_ENTITY,
                "body",
                "the request body must be a JSON object".into(),
            ));
        }
    }
    if let Some(body) = T::from_valid_bytes(bytes) {
        return Ok(body);
    }
    read_checked(bytes)
}

/// The checked reading of a body: JSON syntax, the schema, then serde.
pub fn read_checked<T: Type + JsonBody>(bytes: &[u8]) -> poem::Result<T> {
    let status = |e: &BodyError| {
        if e.malformed {
            StatusCode::BAD_REQUEST
        } else {
            StatusCode::UNPROCESSABLE_ENTITY
        }
    };
    let value: serde_json::Value =
        parse_serde(bytes).map_err(|e| problem(status(&e), &e.field, e.detail))?;
    if let MetaSchemaRef::Reference(name) = T::schema_ref() {
        super::spec::check(&name, &value)
            .map_err(|v| problem(StatusCode::UNPROCESSABLE_ENTITY, &v.field, v.detail))?;
    }
    T::from_value(value).map_err(|e| problem(status(&e), &e.field, e.detail))
}

/// The whole body; a body that stopped arriving (the client paused past
/// `limits.body_timeout_seconds`) is a 408, as for an import.
async fn read_body(body: &mut RequestBody) -> poem::Result<Vec<u8>> {
    let err = match body.take()?.into_vec().await {
        Ok(bytes) => return Ok(bytes),
        Err(err) => err,
    };
    if let poem::error::ReadBodyError::Io(io) = &err
        && let Some(stalled) = crate::connections::body_stalled(io)
    {
        return Err(problem(
            StatusCode::REQUEST_TIMEOUT,
            "body",
            stalled.to_string(),
        ));
    }
    Err(err.into())
}

fn problem(status: StatusCode, field: &str, detail: String) -> poem::Error {
    poem::Error::from_response(
        Problem::new(status, detail)
            .with_field(Some(field.to_string()))
            .into_poem_response(),
    )
}

impl<'a, T: Type + JsonBody> ApiExtractor<'a> for ApiJson<T> {
    const TYPES: &'static [ApiExtractorType] = &[ApiExtractorType::RequestObject];

    type ParamType = ();
    type ParamRawType = ();

    fn register(registry: &mut Registry) {
        <Self as Payload>::register(registry);
    }

    fn request_meta() -> Option<MetaRequest> {
        Some(MetaRequest {
            description: None,
            content: vec![MetaMediaType {
                content_type: <Self as Payload>::CONTENT_TYPE,
                schema: <Self as Payload>::schema_ref(),
            }],
            required: true,
        })
    }

    async fn from_request(
        request: &'a Request,
        body: &mut RequestBody,
        _param_opts: ExtractParamOptions<Self::ParamType>,
    ) -> poem::Result<Self> {
        match request.content_type() {
            Some(ct) if <Self as Payload>::check_content_type(ct) => {
                <Self as ParsePayload>::from_request(request, body).await
            }
            Some(ct) => Err(problem(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "Content-Type",
                format!("`Content-Type: {ct}` is not supported; send `application/json`"),
            )),
            None => Err(problem(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "Content-Type",
                "the `Content-Type` header is missing; send `application/json`".into(),
            )),
        }
    }
}
