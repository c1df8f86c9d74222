//! `/stats`: the digest's figures for any period, and their response
//! objects (the service's figures as the spec describes them).

use chrono::{DateTime, NaiveDate, Utc};
use poem::web::Data;
use poem_openapi::{ApiResponse, Object, OpenApi, param::Query, payload::Json};

use super::{ApiTags, TokenAuth};
use crate::{
    api::problem::ApiResult,
    domain::{Scope, Severity, start_of_day},
    services::{Context, ServiceError, digests, stats},
};

/// The longest period one request may ask for, in days.
const MAX_DAYS: i64 = 400;

#[derive(ApiResponse)]
pub enum StatsFound {
    /// The figures for the period.
    #[oai(status = 200)]
    Ok(Json<PeriodStats>),
}

pub struct StatsApi;

/// A bound: an RFC 3339 instant, or a date (midnight in the digest's zone;
/// for `to`, the end of that day).
fn bound(
    field: &str,
    text: &str,
    end_of_day: bool,
    tz: chrono_tz::Tz,
) -> Result<DateTime<Utc>, ServiceError> {
    if let Ok(at) = DateTime::parse_from_rfc3339(text) {
        return Ok(at.with_timezone(&Utc));
    }
    // The spec's pattern has already checked the form: what fails here is a
    // day or time that does not exist (2026-02-30, 25:00), a 422.
    let date = NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|_| {
        ServiceError::validation(
            field,
            format!("`{field}` {text:?} is neither a date (2026-11-16) nor an RFC 3339 time"),
        )
    })?;
    let date = if end_of_day {
        date.succ_opt()
            .ok_or_else(|| ServiceError::validation(field, "date out of range"))?
    } else {
        date
    };
    Ok(start_of_day(date, tz))
}

/// The period `[from, to)` of `from` and `to` as given (checked: `to`
/// after `from`, at most [`MAX_DAYS`]), and the settings its figures are
/// computed with.
pub(super) fn period<'a>(
    ctx: &'a Context,
    from: &str,
    to: &str,
) -> Result<(DateTime<Utc>, DateTime<Utc>, stats::Definitions<'a>), ServiceError> {
    let tz = digests::time_zone(&ctx.settings);
    let from = bound("from", from, false, tz)?;
    let to = bound("to", to, true, tz)?;
    if to <= from {
        return Err(ServiceError::validation("to", "`to` must be after `from`"));
    }
    if (to - from).num_days() > MAX_DAYS {
        return Err(ServiceError::validation(
            "to",
            format!("the period may span at most {MAX_DAYS} days"),
        ));
    }
    let definitions = stats::Definitions {
        tz,
        intervals: &ctx.settings.customer_update_minutes,
        taxonomy: &ctx.settings.factors,
    };
    Ok((from, to, definitions))
}

#[OpenApi(tag = "ApiTags::Stats")]
impl StatsApi {
    /// Get the figures for a period
    ///
    /// The Ops Review digest's figures (see the README, "Digest figures")
    /// for `[from, to)`: incidents opened and resolved by severity, time to
    /// detect, acknowledge, mitigate and resolve (median and worst), the
    /// period's incidents, remediation items opened, closed and overdue
    /// with the completion rate, pending cleanup items, incidents whose
    /// customer updates ran late, and the incidents opened per contributing
    /// factor. At most 400 days.
    #[oai(path = "/stats", method = "get", operation_id = "get_stats")]
    async fn get_stats(
        &self,
        auth: TokenAuth,
        Data(ctx): Data<&Context>,
        /// Start: `2026-11-16` (midnight in `digest.time_zone`) or an RFC 3339 time.
        #[oai(validator(
            max_length = 64,
            pattern = "^[0-9]{4}-[0-9]{2}-[0-9]{2}([Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]{1,9})?([Zz]|[+-][0-9]{2}:[0-9]{2}))?$"
        ))]
        from: Query<String>,
        /// End: `2026-11-22` (that whole day included) or an RFC 3339 time (excluded).
        #[oai(validator(
            max_length = 64,
            pattern = "^[0-9]{4}-[0-9]{2}-[0-9]{2}([Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]{1,9})?([Zz]|[+-][0-9]{2}:[0-9]{2}))?$"
        ))]
        to: Query<String>,
    ) -> ApiResult<StatsFound> {
        auth.require(Scope::Read)?;
        let (from, to, definitions) = period(ctx, &from.0, &to.0)?;
        let figures =
            stats::period_stats(&ctx.db, from, to, definitions, stats::Lists::Full).await?;
        Ok(StatsFound::Ok(Json(figures.into())))
    }
}

/// Incident counts per severity.
#[derive(Debug, Clone, Object)]
pub struct SeverityCounts {
    /// Critical.
    pub sev1: u64,
    /// Major.
    pub sev2: u64,
    /// Minor.
    pub sev3: u64,
    /// Low.
    pub sev4: u64,
    /// All severities together.
    pub total: u64,
}

/// A response time over the incidents it applies to.
#[derive(Debug, Clone, Object)]
pub struct DurationFigure {
    /// How many incidents had both milestones.
    pub count: u64,
    /// Median in seconds (the middle value; for an even count, the mean of
    /// the two middle values rounded down). Absent without incidents.
    #[oai(nullable)]
    pub median_seconds: Option<i64>,
    /// The longest, in seconds.
    #[oai(nullable)]
    pub worst_seconds: Option<i64>,
}

/// Time to detect, acknowledge, mitigate and resolve.
#[derive(Debug, Clone, Object)]
pub struct ResponseTimes {
    /// `detected_at − started_at`, over incidents opened in the period.
    pub detect: DurationFigure,
    /// `acknowledged_at − detected_at`, over incidents opened in the period.
    pub acknowledge: DurationFigure,
    /// `mitigated_at − start`, over incidents mitigated in the period.
    pub mitigate: DurationFigure,
    /// `resolved_at − start`, over incidents resolved in the period.
    pub resolve: DurationFigure,
}

/// One incident opened in the period.
#[derive(Debug, Clone, Object)]
pub struct IncidentLine {
    /// `INC-n`.
    pub reference: String,
    /// The incident's title.
    pub title: String,
    /// Its severity.
    pub severity: Severity,
    /// Current status.
    pub status: String,
    /// The incident's start: `started_at`, else `detected_at`, else when it was recorded.
    pub opened_at: DateTime<Utc>,
    /// `resolved_at − start` in seconds; absent while unresolved.
    #[oai(nullable)]
    pub duration_seconds: Option<i64>,
    /// The post-mortem's status (`draft`, `in_review`, `published`,
    /// `not_required`), or absent when there is none.
    #[oai(nullable)]
    pub postmortem_status: Option<String>,
}

/// A remediation item overdue at the end of the period.
#[derive(Debug, Clone, Object)]
pub struct OverdueItem {
    /// `REM-n`.
    pub reference: String,
    /// The item's title.
    pub title: String,
    /// `p0` … `p3`.
    pub priority: String,
    /// Who owns it.
    #[oai(nullable)]
    pub owner: Option<String>,
    /// The owning team.
    #[oai(nullable)]
    pub team: Option<String>,
    /// When it was due.
    pub due_date: NaiveDate,
    /// Days overdue at the end of the period: from the due date to the
    /// day the period ends on, so at least 1 (an item due that day is not
    /// overdue yet).
    pub days_overdue: i64,
    /// The issue in the team's tracker (`acme/ops#12`), when synced.
    #[oai(nullable)]
    pub tracker_key: Option<String>,
    /// The address (or the link typed by hand).
    #[oai(nullable)]
    pub tracker_url: Option<String>,
}

/// Remediation progress in the period.
#[derive(Debug, Clone, Object)]
pub struct RemediationFigures {
    /// Items created in the period.
    pub opened: u64,
    /// Items that became `done` or `wont_do` in the period.
    pub closed: u64,
    /// Items open at the end of the period whose due date had passed.
    pub overdue: u64,
    /// Items due in the period (`wont_do` left out).
    pub due_in_period: u64,
    /// Of those, the ones done by the end of their due day.
    pub done_on_time: u64,
    /// `done_on_time / due_in_period`; absent when nothing was due.
    #[oai(nullable)]
    pub completion_rate: Option<f64>,
    /// The overdue items, most overdue first.
    pub overdue_items: Vec<OverdueItem>,
}

/// A post-mortem overdue at the end of the period.
#[derive(Debug, Clone, Object)]
pub struct OverduePostmortem {
    /// The incident's `INC-n`.
    pub incident: String,
    /// The incident's title.
    pub title: String,
    /// The incident's severity.
    pub severity: Severity,
    /// Who owns the post-mortem.
    #[oai(nullable)]
    pub owner: Option<String>,
    /// Its status now (`draft`, `in_review`, or `published` when it was
    /// published only after the period).
    pub status: String,
    /// When it was due.
    pub due_date: NaiveDate,
    /// Days overdue at the end of the period: from the due date to the
    /// day the period ends on, so at least 1 (an item due that day is not
    /// overdue yet).
    pub days_overdue: i64,
}

/// Post-mortems due, published and overdue.
#[derive(Debug, Clone, Object)]
pub struct PostmortemFigures {
    /// Post-mortems whose due date falls in the period.
    pub due: u64,
    /// Post-mortems first published in the period.
    pub published: u64,
    /// Post-mortems due before the period's end day and not published by the
    /// end of the period.
    pub overdue: u64,
    /// The overdue post-mortems, most overdue first.
    pub overdue_items: Vec<OverduePostmortem>,
}

/// A cleanup item still pending at the end of the period.
#[derive(Debug, Clone, Object)]
pub struct PendingCleanup {
    /// The incident's `INC-n`.
    pub incident: String,
    /// What kind of temporary change.
    pub kind: String,
    /// What to undo.
    pub description: String,
    /// Who undoes it.
    #[oai(nullable)]
    pub owner: Option<String>,
    /// Days from its creation to the end of the period.
    pub age_days: i64,
}

/// An incident whose public status updates ran late during the period.
#[derive(Debug, Clone, Object)]
pub struct LateCustomerUpdates {
    /// `INC-n`.
    pub incident: String,
    /// The incident's title.
    pub title: String,
    /// Its severity.
    pub severity: Severity,
    /// The interval its severity allows, in minutes.
    pub allowed_minutes: u32,
    /// The longest time without a public update that overlaps the period, in minutes.
    pub longest_gap_minutes: i64,
}

/// Every figure for one period `[from, to)`.
#[derive(Debug, Clone, Object)]
pub struct PeriodStats {
    /// Start of the period (inclusive).
    pub from: DateTime<Utc>,
    /// End of the period (exclusive).
    pub to: DateTime<Utc>,
    /// Incidents whose start falls in the period.
    pub opened: SeverityCounts,
    /// Incidents whose `resolved_at` falls in the period.
    pub resolved: SeverityCounts,
    /// Time to detect, acknowledge, mitigate and resolve.
    pub response_times: ResponseTimes,
    /// The incidents opened in the period, oldest first.
    pub incidents: Vec<IncidentLine>,
    /// Post-mortems due, published and overdue.
    pub postmortems: PostmortemFigures,
    /// Remediation items opened, closed, overdue, and the completion rate.
    pub remediations: RemediationFigures,
    /// Cleanup items pending at the end of the period, oldest first.
    pub pending_cleanup: Vec<PendingCleanup>,
    /// Incidents whose customer updates ran late, by reference.
    pub late_customer_updates: Vec<LateCustomerUpdates>,
    /// Incidents opened in the period per contributing factor their
    /// post-mortem names, by severity: every factor of the taxonomy (zero
    /// included, in its order), then retired factors named in the period.
    /// An incident names several factors or none, so the counts need not
    /// add up to `opened`.
    pub contributing_factors: Vec<FactorCount>,
}

/// Incidents opened in the period whose post-mortem names one factor.
#[derive(Debug, Clone, Object)]
pub struct FactorCount {
    /// The factor's id, e.g. `change_deploy`.
    pub factor: String,
    /// Its label; the id itself when `retired`.
    pub label: String,
    /// The taxonomy no longer lists it.
    pub retired: bool,
    /// The incidents naming it, per severity.
    pub incidents: SeverityCounts,
}

impl From<stats::SeverityCounts> for SeverityCounts {
    fn from(s: stats::SeverityCounts) -> Self {
        Self {
            sev1: s.sev1,
            sev2: s.sev2,
            sev3: s.sev3,
            sev4: s.sev4,
            total: s.total,
        }
    }
}

impl From<stats::DurationFigure> for DurationFigure {
    fn from(s: stats::DurationFigure) -> Self {
        Self {
            count: s.count,
            median_seconds: s.median_seconds,
            worst_seconds: s.worst_seconds,
        }
    }
}

impl From<stats::ResponseTimes> for ResponseTimes {
    fn from(s: stats::ResponseTimes) -> Self {
        Self {
            detect: s.detect.into(),
            acknowledge: s.acknowledge.into(),
            mitigate: s.mitigate.into(),
            resolve: s.resolve.into(),
        }
    }
}

impl From<stats::IncidentLine> for IncidentLine {
    fn from(s: stats::IncidentLine) -> Self {
        Self {
            reference: s.reference,
            title: s.title,
            severity: s.severity,
            status: s.status,
            opened_at: s.opened_at,
            duration_seconds: s.duration_seconds,
            postmortem_status: s.postmortem_status,
        }
    }
}

impl From<stats::OverdueItem> for OverdueItem {
    fn from(s: stats::OverdueItem) -> Self {
        Self {
            reference: s.reference,
            title: s.title,
            priority: s.priority,
            owner: s.owner,
            team: s.team,
            due_date: s.due_date,
            days_overdue: s.days_overdue,
            tracker_key: s.tracker_key,
            tracker_url: s.tracker_url,
        }
    }
}

impl From<stats::RemediationFigures> for RemediationFigures {
    fn from(s: stats::RemediationFigures) -> Self {
        Self {
            opened: s.opened,
            closed: s.closed,
            overdue: s.overdue,
            due_in_period: s.due_in_period,
            done_on_time: s.done_on_time,
            completion_rate: s.completion_rate,
            overdue_items: s.overdue_items.into_iter().map(Into::into).collect(),
        }
    }
}

impl From<stats::OverduePostmortem> for OverduePostmortem {
    fn from(s: stats::OverduePostmortem) -> Self {
        Self {
            incident: s.incident,
            title: s.title,
            severity: s.severity,
            owner: s.owner,
            status: s.status,
            due_date: s.due_date,
            days_overdue: s.days_overdue,
        }
    }
}

impl From<stats::PostmortemFigures> for PostmortemFigures {
    fn from(s: stats::PostmortemFigures) -> Self {
        Self {
            due: s.due,
            published: s.published,
            overdue: s.overdue,
            overdue_items: s.overdue_items.into_iter().map(Into::into).collect(),
        }
    }
}

impl From<stats::PendingCleanup> for PendingCleanup {
    fn from(s: stats::PendingCleanup) -> Self {
        Self {
            incident: s.incident,
            kind: s.kind,
            description: s.description,
            owner: s.owner,
            age_days: s.age_days,
        }
    }
}

impl From<stats::LateCustomerUpdates> for LateCustomerUpdates {
    fn from(s: stats::LateCustomerUpdates) -> Self {
        Self {
            incident: s.incident,
            title: s.title,
            severity: s.severity,
            allowed_minutes: s.allowed_minutes,
            longest_gap_minutes: s.longest_gap_minutes,
        }
    }
}

impl From<stats::PeriodStats> for PeriodStats {
    fn from(s: stats::PeriodStats) -> Self {
        Self {
            from: s.from,
            to: s.to,
            opened: s.opened.into(),
            resolved: s.resolved.into(),
            response_times: s.response_times.into(),
            incidents: s.incidents.into_iter().map(Into::into).collect(),
            postmortems: s.postmortems.into(),
            remediations: s.remediations.into(),
            pending_cleanup: s.pending_cleanup.into_iter().map(Into::into).collect(),
            late_customer_updates: s
                .late_customer_updates
                .into_iter()
                .map(Into::into)
                .collect(),
            contributing_factors: s.contributing_factors.into_iter().map(Into::into).collect(),
        }
    }
}

impl From<stats::FactorCount> for FactorCount {
    fn from(s: stats::FactorCount) -> Self {
        Self {
            factor: s.factor,
            label: s.label,
            retired: s.retired,
            incidents: s.incidents.into(),
        }
    }
}
