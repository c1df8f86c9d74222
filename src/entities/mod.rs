//! sea-orm entities: the tables as the service sees them. No HTTP types here.
//! Enumerations are stored as their snake_case names and lists as JSON text.

pub mod api_token;
pub mod cleanup_item;
pub mod incident;
pub mod remediation_history;
pub mod remediation_incident;
pub mod remediation_item;
pub mod role_assignment;
pub mod sitrep;
pub mod status_update;
pub mod timeline_event;
