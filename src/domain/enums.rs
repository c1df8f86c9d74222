//! The closed vocabularies of the domain, stored as their snake_case names
//! (the sea-orm value traits live with the entities, in `entities/stored.rs`).

use poem_openapi::Enum;
use serde::{Deserialize, Serialize};

/// A closed set of names: the enum with `ALL`, `as_str`, `Display` and a
/// `FromStr` whose error lists the names it accepts. `domain_enum!` adds the
/// API and serde derives; an enum only stored (the outbox's) uses this alone.
macro_rules! text_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident { $( $(#[$vmeta:meta])* $variant:ident = $text:literal ),+ $(,)? }
    ) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        $(#[$meta])*
        pub enum $name { $( $(#[$vmeta])* $variant ),+ }

        impl $name {
            /// Every value, in order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The name used on the wire and in the database.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($text => Ok($name::$variant),)+
                    other => Err(format!(
                        "{other:?} is not one of: {}",
                        [$($text),+].join(", ")
                    )),
                }
            }
        }
    };
}
pub(crate) use text_enum;

macro_rules! domain_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident { $( $(#[$vmeta:meta])* $variant:ident = $text:literal ),+ $(,)? }
    ) => {
        text_enum! {
            $(#[$meta])*
            #[derive(Enum, Serialize, Deserialize)]
            #[oai(rename_all = "snake_case")]
            #[serde(rename_all = "snake_case")]
            pub enum $name { $( $(#[$vmeta])* $variant = $text ),+ }
        }
    };
}

domain_enum! {
    /// How bad an incident is; `sev1` is the worst.
    pub enum Severity {
        /// Critical: a core service is down for many customers.
        Sev1 = "sev1",
        /// Major: significant degradation or a partial outage.
        Sev2 = "sev2",
        /// Minor: limited impact.
        Sev3 = "sev3",
        /// Low: little or no customer impact.
        Sev4 = "sev4",
    }
}

domain_enum! {
    /// Where an incident stands.
    pub enum IncidentStatus {
        /// The cause is being looked for.
        Investigating = "investigating",
        /// The cause is known.
        Identified = "identified",
        /// A fix is in place and being watched.
        Monitoring = "monitoring",
        /// Customers are no longer affected.
        Resolved = "resolved",
        /// The follow-up is finished: no cleanup item is pending.
        Closed = "closed",
    }
}

impl IncidentStatus {
    /// Still being responded to.
    pub fn is_open(self) -> bool {
        matches!(
            self,
            Self::Investigating | Self::Identified | Self::Monitoring
        )
    }
}

domain_enum! {
    /// The status shown to the public in a status update.
    pub enum PublicStatus {
        Investigating = "investigating",
        Identified = "identified",
        Monitoring = "monitoring",
        Resolved = "resolved",
    }
}

domain_enum! {
    /// What a timeline event records.
    pub enum TimelineKind {
        Detection = "detection",
        Page = "page",
        Acknowledgement = "acknowledgement",
        Action = "action",
        Mitigation = "mitigation",
        Communication = "communication",
        Decision = "decision",
        StatusChange = "status_change",
        Resolution = "resolution",
        Note = "note",
    }
}

domain_enum! {
    /// Where a timeline event came from. `system` events are Debrief's own.
    pub enum EventSource {
        Api = "api",
        Chat = "chat",
        Pagerduty = "pagerduty",
        Statuspage = "statuspage",
        Opsgenie = "opsgenie",
        Import = "import",
        System = "system",
    }
}

domain_enum! {
    /// Who may see a timeline event or post-mortem section.
    pub enum Visibility {
        /// Only the internal post-mortem (the default).
        Internal = "internal",
        /// Also the public post-mortem.
        Public = "public",
    }
}

domain_enum! {
    /// The kind of temporary change a cleanup item tracks.
    pub enum CleanupKind {
        SilencedAlert = "silenced_alert",
        MaintenanceMode = "maintenance_mode",
        FeatureFlag = "feature_flag",
        ExtraCapacity = "extra_capacity",
        ConfigOverride = "config_override",
        Other = "other",
    }
}

domain_enum! {
    /// Whether a temporary change has been undone.
    pub enum CleanupStatus {
        /// Still in place and must be undone (or kept, with a reason).
        Pending = "pending",
        /// Undone.
        Undone = "undone",
        /// Deliberately kept; `reason` says why.
        Kept = "kept",
    }
}

domain_enum! {
    /// What an API token may do. Each scope includes the ones before it.
    pub enum Scope {
        /// Read everything under `/api/v1`.
        Read = "read",
        /// Also create and change incidents and their records.
        Write = "write",
        /// Also manage tokens.
        Admin = "admin",
    }
}

impl Scope {
    /// Does a token with this scope allow an operation needing `needed`?
    pub fn allows(self, needed: Scope) -> bool {
        self.rank() >= needed.rank()
    }

    fn rank(self) -> u8 {
        match self {
            Scope::Read => 0,
            Scope::Write => 1,
            Scope::Admin => 2,
        }
    }
}

domain_enum! {
    /// What a remediation item does about the incident's causes.
    pub enum RemediationKind {
        /// Stops it from happening again.
        Prevent = "prevent",
        /// Finds it sooner next time.
        Detect = "detect",
        /// Limits the damage next time.
        Mitigate = "mitigate",
        /// Changes how people work.
        Process = "process",
        Other = "other",
    }
}

domain_enum! {
    /// How urgent a remediation item is; each has a default due period.
    pub enum Priority {
        P0 = "p0",
        P1 = "p1",
        P2 = "p2",
        P3 = "p3",
    }
}

domain_enum! {
    /// Where a remediation item stands.
    pub enum RemediationStatus {
        Open = "open",
        InProgress = "in_progress",
        Blocked = "blocked",
        /// Finished.
        Done = "done",
        /// Decided against; `reason` says why.
        WontDo = "wont_do",
    }
}

impl RemediationStatus {
    /// Done or decided against: no longer tracked as open work.
    pub fn is_closed(self) -> bool {
        matches!(self, Self::Done | Self::WontDo)
    }

    /// Whether an item may move from `self` to `next`. Open work may move
    /// anywhere; a closed item can only be reopened.
    pub fn can_become(self, next: Self) -> bool {
        self == next || !self.is_closed() || next == Self::Open
    }
}

domain_enum! {
    /// How an incident is followed up.
    pub enum PostmortemKind {
        /// A short discussion at the weekly Ops Review.
        OpsReview = "ops_review",
        /// A dedicated internal post-mortem plus a public one.
        Dedicated = "dedicated",
    }
}

domain_enum! {
    /// Where a post-mortem stands: `draft` → `in_review` → `published`;
    /// or `not_required` (with a reason), which is never due.
    pub enum PostmortemStatus {
        /// Being written.
        Draft = "draft",
        /// Written; waiting for the review meeting.
        InReview = "in_review",
        /// Reviewed and published (set by the publish operation).
        Published = "published",
        /// No post-mortem is needed (`not_required_reason` says why): never
        /// due or overdue, and not published until set back to `draft` or
        /// `in_review`.
        NotRequired = "not_required",
    }
}

text_enum! {
    /// Where an incident's sitreps go: an e-mail address or a webhook; also
    /// how a delivery of the outbox is sent.
    pub enum ChannelKind {
        Email = "email",
        Webhook = "webhook",
    }
}

text_enum! {
    /// What started a send of the weekly digest.
    pub enum SendTrigger {
        /// The scheduler, at `digest.schedule`.
        Schedule = "schedule",
        /// `POST /digests/{week}/send`.
        Api = "api",
        /// `debrief digest` or `debrief job run digest`.
        Cli = "cli",
    }
}

text_enum! {
    /// How a redaction rule matches: a literal term or a regular expression.
    pub enum RedactionKind {
        Term = "term",
        Pattern = "pattern",
    }
}

domain_enum! {
    /// An issue tracker remediation items are synced with.
    pub enum TrackerKind {
        /// GitHub or GitHub Enterprise issues.
        Github = "github",
        /// Jira Cloud or Data Center issues.
        Jira = "jira",
    }
}

text_enum! {
    /// The state of a tracker's issue that Debrief cares about.
    pub enum RemoteState {
        /// Open (whatever the tracker's own open states are).
        Open = "open",
        /// Closed as completed (GitHub `state_reason` "completed"; Jira
        /// status category "done" with a resolution other than "Won't Do").
        Done = "done",
        /// Closed as not planned (GitHub `state_reason` "not_planned"; Jira
        /// resolution "Won't Do"/"Won't Fix"/"Declined").
        NotPlanned = "not_planned",
    }
}
