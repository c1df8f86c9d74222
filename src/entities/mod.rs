//! sea-orm entities: the tables as the service sees them. No HTTP types here.
//! Columns hold the domain's types: enumerations stored as their snake_case
//! names and lists as JSON text (see [`stored`]).

pub mod api_token;
pub mod cleanup_item;
pub mod contributing_factor;
pub mod delivery;
pub mod digest;
pub mod digest_send;
pub mod incident;
pub mod incident_channel;
pub mod incident_external_id;
pub mod job_claim;
pub mod postmortem;
pub mod postmortem_publication;
pub mod postmortem_section;
pub mod postmortem_snapshot;
pub mod redaction_rule;
pub mod remediation_history;
pub mod remediation_incident;
pub mod remediation_item;
pub mod reminder;
pub mod role_assignment;
pub mod service_state;
pub mod sitrep;
pub mod status_update;
mod stored;
pub mod timeline_event;
pub mod tracker_push;
pub mod tracker_rate_limit;
pub mod tracker_webhook_delivery;

pub use stored::{JsonList, StringList};
