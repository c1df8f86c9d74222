//! The REST API under `/api/v1`, described with poem-openapi. One struct per
//! tag; handlers parse, call one service function and map the result.

mod auth;
mod channels;
mod cleanup;
mod digests;
mod exports;
pub mod hooks;
mod imports;
mod incidents;
mod json;
mod params;
mod postmortems;
pub mod problem;
pub mod public;
mod redactions;
mod remediations;
mod roles;
mod search;
mod sitreps;
pub mod spec;
mod stats;
mod status_updates;
mod text;
mod timeline;
mod tokens;
mod trackers;

use poem_openapi::{OpenApiService, Tags};

pub use auth::TokenAuth;
pub use json::{ApiJson, JsonBody, RenderedJson};

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
    /// Post-mortems: sections, documents (Markdown, HTML, PDF) and publishing.
    Postmortems,
    /// Redaction rules for public documents.
    Redactions,
    /// Where an incident's sitreps are sent: e-mail addresses and webhooks.
    Channels,
    /// The weekly Ops Review digest: archive, preview, downloads and sends.
    Digests,
    /// The digest's figures for any period.
    Stats,
    /// Imports (bundle, Statuspage, PagerDuty, Slack) and the bundle export.
    Imports,
    /// Search across the record, and the past incidents most like one.
    Search,
}

pub type Apis = (
    incidents::IncidentsApi,
    roles::RolesApi,
    timeline::TimelineApi,
    sitreps::SitrepsApi,
    status_updates::StatusUpdatesApi,
    cleanup::CleanupApi,
    // A tuple implements `OpenApi` up to 16 members: an item and its
    // tracker link are one member.
    (remediations::RemediationsApi, trackers::TrackersApi),
    tokens::TokensApi,
    postmortems::PostmortemsApi,
    redactions::RedactionsApi,
    channels::ChannelsApi,
    digests::DigestsApi,
    stats::StatsApi,
    imports::ImportsApi,
    search::SearchApi,
    exports::ExportsApi,
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
            (remediations::RemediationsApi, trackers::TrackersApi),
            tokens::TokensApi,
            postmortems::PostmortemsApi,
            redactions::RedactionsApi,
            channels::ChannelsApi,
            digests::DigestsApi,
            stats::StatsApi,
            imports::ImportsApi,
            search::SearchApi,
            exports::ExportsApi,
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
    spec::spec_yaml()
}
