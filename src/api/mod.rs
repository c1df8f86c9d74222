//! The REST API under `/api/v1`, described with poem-openapi. One struct per
//! tag; handlers parse, call one service function and map the result.

mod auth;
mod cleanup;
mod incidents;
mod json;
mod remediations;
mod roles;
mod sitreps;
mod status_updates;
mod text;
mod timeline;
mod tokens;

use poem_openapi::{OpenApiService, Tags};

pub use auth::TokenAuth;
pub use json::{ApiJson, JsonBody};

/// The API's version, as shown in the spec.
pub const API_VERSION: &str = env!("CARGO_PKG_VERSION");

#[derive(Tags)]
pub enum ApiTags {
    /// Incidents: the record of what happened, with milestones and status.
    Incidents,
    /// Who held which role, and the hand-offs between them.
    Roles,
    /// The incident's timeline of events.
    Timeline,
    /// Versioned situation reports.
    Sitreps,
    /// Public status updates.
    StatusUpdates,
    /// Temporary changes that must be undone before an incident is closed.
    Cleanup,
    /// Remediation items: follow-ups tracked to done.
    Remediations,
    /// API tokens (admin scope).
    Tokens,
}

pub type Apis = (
    incidents::IncidentsApi,
    roles::RolesApi,
    timeline::TimelineApi,
    sitreps::SitrepsApi,
    status_updates::StatusUpdatesApi,
    cleanup::CleanupApi,
    remediations::RemediationsApi,
    tokens::TokensApi,
);

/// The OpenAPI service, ready to be nested at `/api/v1`.
pub fn service() -> OpenApiService<Apis, ()> {
    OpenApiService::new(
        (
            incidents::IncidentsApi,
            roles::RolesApi,
            timeline::TimelineApi,
            sitreps::SitrepsApi,
            status_updates::StatusUpdatesApi,
            cleanup::CleanupApi,
            remediations::RemediationsApi,
            tokens::TokensApi,
        ),
        "Debrief",
        API_VERSION,
    )
    .description(
        "Post-mortem and remediation tracking. Every operation needs \
         `Authorization: Bearer <token>`; errors are `application/problem+json` \
         bodies naming the field at fault. Incidents are addressed by UUID or by \
         their `INC-n` reference.",
    )
    .server("/api/v1")
}

/// The spec as YAML, as committed in `openapi/openapi.yaml`.
pub fn spec_yaml() -> String {
    service().spec_yaml()
}
