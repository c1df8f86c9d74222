//! Post-mortems: one per incident, with ordered sections, a due date from
//! the severity, the internal and public documents rendered from the
//! incident's record, and publication as immutable snapshots. The record
//! is in `record` (its contributing factors in `factors`), due dates in
//! `due`, building documents in `documents`,
//! rendering them in `render`, publishing in `publishing` and the public
//! pages in `public`.

use std::{
    collections::{BTreeMap, HashMap},
    sync::Arc,
};

use bytes::Bytes;
use chrono::{DateTime, Datelike, Days, NaiveDate, Utc, Weekday};
use chrono_tz::Tz;
use futures_util::TryStreamExt;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait,
    IntoActiveModel, LoaderTrait, QueryFilter, QueryOrder, sea_query::OnConflict,
};
use sha2::{Digest, Sha256};
use tokio::sync::OwnedSemaphorePermit;
use uuid::Uuid;

use super::{
    Context, KindCounts, Outcome, ServiceError, Written, check_if_match, find_incident,
    insert_model, new_id, same_incident, store,
};
use crate::{
    config::{DuePeriod, FactorSettings, PostmortemDue},
    db,
    domain::{
        CleanupStatus, EventSource, IncidentRef, PostmortemKind, PostmortemStatus, Visibility,
    },
    entities::{
        cleanup_item, contributing_factor, incident, postmortem, postmortem_publication,
        postmortem_section, postmortem_snapshot, remediation_incident, remediation_item,
        role_assignment, service_state, sitrep, status_update, timeline_event,
    },
    ingest::{PostmortemRecord, SectionRecord},
    reports::{
        self, CleanupRow, FactorRow, Figure, Format, PostmortemDocument, RelatedRow,
        RemediationRow, RoleRow, SectionBlock, SitrepRow, StatusUpdateRow, Templates, TimelineRow,
        Variant, figures, html,
        pdf::{self, PdfOptions},
        redaction::{Leak, RedactionRules, RuleOrigin},
    },
    services::{
        redactions,
        render_queue::{Fingerprint, RenderTicket},
        stats,
    },
};

mod documents;
mod due;
mod factors;
mod public;
mod publishing;
mod record;
mod render;

pub use documents::TimeFormat;
use documents::{Record, Sources, build_document, load_record, public_rules};
use due::set_due_on;
pub use due::{due_after, due_by_severity, due_in_force, sync_due_on, sync_due_on_if_changed};
use factors::replace_factors;
pub use factors::{
    FactorCheck, FactorInput, FactorView, check_factor_list, factor_views, factors_of,
    factors_of_incidents,
};
pub use public::{PublicEntry, PublicPage, PublishedFile, public_page, published};
use publishing::save_next_version;
pub use publishing::{Publication, PublishedDocument, publish, slugify, unpublish};
pub use record::{PostmortemWrite, PostmortemWritten, ensure_all, get, update, write};
pub(crate) use record::{ensure, mark_history_not_required};
pub use render::{RenderedDocument, render, summary_line};
use render::{RenderedSet, leak_error, render_checked, render_set, stored_rules};

/// The sections a new post-mortem starts with: key, title, visibility.
/// `timeline` and `action_items` are generated from the record (their body,
/// if any, is printed above the generated part).
pub const DEFAULT_SECTIONS: &[(&str, &str, Visibility)] = &[
    ("summary", "Summary", Visibility::Internal),
    ("impact", "Impact", Visibility::Internal),
    ("timeline", "Timeline", Visibility::Internal),
    ("root_cause", "Root cause", Visibility::Internal),
    ("trigger", "Trigger", Visibility::Internal),
    ("detection", "Detection", Visibility::Internal),
    ("resolution", "Resolution", Visibility::Internal),
    (
        "contributing_factors",
        "Contributing factors",
        Visibility::Internal,
    ),
    ("what_went_well", "What went well", Visibility::Internal),
    ("what_went_wrong", "What went wrong", Visibility::Internal),
    (
        "where_we_got_lucky",
        "Where we got lucky",
        Visibility::Internal,
    ),
    ("action_items", "Action items", Visibility::Internal),
    ("public_summary", "Summary", Visibility::Public),
    ("what_happened", "What happened", Visibility::Public),
    (
        "what_we_are_doing",
        "What we are doing about it",
        Visibility::Public,
    ),
];

/// Sections whose content Debrief generates.
pub const GENERATED_SECTIONS: &[&str] = &["timeline", "action_items"];

/// A post-mortem with its sections, in order.
#[derive(Debug, Clone)]
pub struct PostmortemView {
    pub postmortem: postmortem::Model,
    pub incident: incident::Model,
    pub sections: Vec<postmortem_section::Model>,
    /// The contributing factors it names, in its order, with their labels.
    pub factors: Vec<FactorView>,
    /// The effective due date: set explicitly, or from the severity.
    pub due_date: Option<NaiveDate>,
    /// Not published and the due date has passed.
    pub overdue: bool,
}

/// A section as given in a PUT.
#[derive(Debug, Clone)]
pub struct SectionInput {
    pub key: String,
    pub title: String,
    pub body: String,
    pub visibility: Visibility,
}

/// Changes to a post-mortem; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct PostmortemChanges {
    pub kind: Option<PostmortemKind>,
    pub owner: Option<Option<String>>,
    /// `Some(None)`: back to the due date from the severity.
    pub due_date: Option<Option<NaiveDate>>,
    pub review_at: Option<Option<DateTime<Utc>>>,
    pub status: Option<PostmortemStatus>,
    /// Why no post-mortem is needed: with `status` `not_required` (or on
    /// one that is), already checked as a required text.
    pub not_required_reason: Option<String>,
    /// The whole ordered list of sections, replacing the current one.
    pub sections: Option<Vec<SectionInput>>,
    /// The whole ordered list of contributing factors, replacing the
    /// current one.
    pub contributing_factors: Option<Vec<FactorInput>>,
}
