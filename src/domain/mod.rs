//! Domain values that check themselves when built: once a request has been
//! parsed into these, the rest of the service can trust them.

mod enums;
mod error;
mod factor;
mod milestones;
mod reference;
mod schedule;
pub mod search;
pub mod text;
mod webhook_secret;

pub use enums::*;
pub use error::Invalid;
pub use factor::{FACTOR_SLUG_MAX, FactorSlug};
pub use milestones::{MILESTONE_FIELDS, Milestones};
pub use reference::{IncidentRef, RemediationRef, RoleName};
pub use schedule::{CronSpec, IsoWeek, ScheduleError, parse_time_zone, start_of_day};
pub use text::{
    ChannelTarget, Description, EventBody, ExternalId, FactorNote, ForeignId, HttpUrl, ListEntry,
    LongText, Name, NotRequiredReason, Reason, RedactionText, SectionBody, SectionTitle, ShortText,
    SitrepSummary, StatusMessage, Text, Title,
};
pub use text::{SectionKey, UpdateSource};
pub use webhook_secret::{WEBHOOK_SECRET_PREFIX, WebhookSecret};
