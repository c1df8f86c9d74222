//! The stack's floor: the least any `GET /incidents/{ref}` built on
//! poem-openapi does, served by the bare server process next to its
//! `/healthz`. One operation with a path parameter and a bearer token,
//! answering an incident's JSON (the shape and size of Debrief's, rendered
//! once, as Debrief keeps it) with its `ETag` and the security headers
//! Debrief sends; no database, no cache look-up, no metrics. Measured in every round, it tells how much of the
//! gap between bare poem and Debrief's read the chosen stack itself takes
//! on the machine at hand.

use poem::{EndpointExt, IntoEndpoint, Request, Response, http::HeaderValue};

use poem_openapi::{OpenApi, OpenApiService, SecurityScheme, auth::Bearer, param::Path};
use serde_json::{Value, json};

/// The token the floor's operation accepts.
pub const TOKEN: &str = "floor-token";

/// The path the load runs against.
pub const PATH: &str = "/floor/incidents/INC-1";

#[derive(SecurityScheme)]
#[oai(ty = "bearer", checker = "check")]
struct Auth(());

async fn check(_req: &Request, bearer: Bearer) -> Option<()> {
    (bearer.token == TOKEN).then_some(())
}

/// JSON rendered beforehand.
struct Rendered(bytes::Bytes);

impl poem_openapi::payload::Payload for Rendered {
    const CONTENT_TYPE: &'static str = "application/json; charset=utf-8";

    fn schema_ref() -> poem_openapi::registry::MetaSchemaRef {
        <Value as poem_openapi::types::Type>::schema_ref()
    }
}

impl poem::IntoResponse for Rendered {
    fn into_response(self) -> Response {
        Response::builder()
            .content_type(<Self as poem_openapi::payload::Payload>::CONTENT_TYPE)
            .body(self.0)
    }
}

#[derive(poem_openapi::ApiResponse)]
enum Found {
    #[oai(status = 200)]
    Ok(Rendered, #[oai(header = "ETag")] String),
    #[oai(status = 404)]
    NotFound,
}

struct Floor {
    incident: bytes::Bytes,
}

#[OpenApi]
impl Floor {
    #[oai(path = "/incidents/:reference", method = "get")]
    async fn get(&self, _auth: Auth, reference: Path<String>) -> Found {
        if reference.0 == "INC-1" {
            Found::Ok(Rendered(self.incident.clone()), "\"1\"".to_string())
        } else {
            Found::NotFound
        }
    }
}

/// An incident as Debrief answers it (678 bytes).
fn incident() -> Value {
    json!({
        "acknowledged_at": null, "affected_components": [], "chat_room_url": null,
        "closed_at": null,
        "counts": {"cleanup_items": 0, "cleanup_items_pending": 0, "remediation_items": 0,
                   "sitreps": 0, "status_updates": 0, "timeline_events": 200},
        "created_at": "2026-12-02T09:53:26.337082+00:00", "current_sitrep": null,
        "customer_impact": null, "customer_update_overdue": false, "detected_at": null,
        "id": "01a2362c-5b41-77e4-a271-da1916894f62", "labels": [],
        "last_customer_update_at": null, "mitigated_at": null, "ref": "INC-1",
        "resolved_at": null, "roles": [], "severity": "sev2",
        "started_at": "2026-12-02T09:53:26.337082+00:00", "status": "investigating",
        "title": "Bench: 200 timeline events",
        "updated_at": "2026-12-02T09:53:26.337082+00:00", "version": 1
    })
}

/// The floor's operation (to be nested under `/floor`), with Debrief's
/// response headers.
pub fn route() -> poem::endpoint::BoxEndpoint<'static, Response> {
    let api = OpenApiService::new(
        Floor {
            incident: serde_json::to_vec(&incident())
                .expect("a JSON value serialises")
                .into(),
        },
        "floor",
        "1",
    );
    api.into_endpoint()
        .map_to_response()
        .after(|response| async move {
            let mut response = response?;
            let headers = response.headers_mut();
            for (name, value) in [
                ("x-content-type-options", "nosniff"),
                ("referrer-policy", "no-referrer"),
                ("x-frame-options", "DENY"),
                (
                    "content-security-policy",
                    "default-src 'none'; frame-ancestors 'none'",
                ),
            ] {
                headers.insert(name, HeaderValue::from_static(value));
            }
            Ok(response)
        })
        .boxed()
}
