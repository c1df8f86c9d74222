//! The Ops Review figures for any period: incidents opened and resolved by
//! severity, response times, the period's incidents, remediation progress,
//! pending cleanup and late customer updates. The digest shows them per
//! week; `GET /api/v1/stats` serves them for any `[from, to)`.
//!
//! Every figure is a function of the stored data and the period alone (the
//! clock is never read), so the same data gives the same figures. The
//! definitions are in the README ("Digest figures"). Contributing factors
//! are counted in `factors`.
//!
//! These are plain data (serde, for the digest archive and its templates);
//! `api::stats` mirrors them as the API's response objects. The figures of
//! post-mortems and remediation items (due, done, overdue) are in `overdue`.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use chrono_tz::Tz;
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

mod factors;
mod overdue;

pub use factors::{FactorCount, FactorWeekRow, FactorWeeks, factor_weeks};
use overdue::{postmortem_figures, remediation_figures};

use super::ServiceError;
use crate::{
    config::{CustomerUpdateMinutes, FactorSettings},
    domain::{CleanupStatus, IncidentRef, IncidentStatus, PostmortemStatus, Severity},
    entities::{cleanup_item, incident, postmortem, status_update},
};

/// Incident counts per severity.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
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

impl SeverityCounts {
    fn add(&mut self, severity: Severity) {
        match severity {
            Severity::Sev1 => self.sev1 += 1,
            Severity::Sev2 => self.sev2 += 1,
            Severity::Sev3 => self.sev3 += 1,
            Severity::Sev4 => self.sev4 += 1,
        }
        self.total += 1;
    }

    /// The count of one severity.
    pub fn get(&self, severity: Severity) -> u64 {
        match severity {
            Severity::Sev1 => self.sev1,
            Severity::Sev2 => self.sev2,
            Severity::Sev3 => self.sev3,
            Severity::Sev4 => self.sev4,
        }
    }
}

/// A response time over the incidents it applies to.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DurationFigure {
    /// How many incidents had both milestones.
    pub count: u64,
    /// Median in seconds (the middle value; for an even count, the mean of
    /// the two middle values rounded down). Absent without incidents.
    pub median_seconds: Option<i64>,
    /// The longest, in seconds.
    pub worst_seconds: Option<i64>,
}

impl DurationFigure {
    fn of(mut values: Vec<i64>) -> Self {
        values.sort_unstable();
        Self {
            count: values.len() as u64,
            median_seconds: median(&values),
            worst_seconds: values.last().copied(),
        }
    }
}

/// The median of sorted values: the middle one, or the mean of the two
/// middle ones rounded down.
pub fn median(sorted: &[i64]) -> Option<i64> {
    let n = sorted.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(sorted[n / 2]),
        _ => Some((sorted[n / 2 - 1] + sorted[n / 2]).div_euclid(2)),
    }
}

/// Time to detect, acknowledge, mitigate and resolve.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
    pub duration_seconds: Option<i64>,
    /// The post-mortem's status (`draft`, `in_review`, `published`,
    /// `not_required`), or absent when there is none.
    pub postmortem_status: Option<String>,
}

/// A remediation item overdue at the end of the period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OverdueItem {
    /// `REM-n`.
    pub reference: String,
    /// The item's title.
    pub title: String,
    /// `p0` … `p3`.
    pub priority: String,
    /// Who owns it.
    pub owner: Option<String>,
    /// The owning team.
    pub team: Option<String>,
    /// When it was due.
    pub due_date: NaiveDate,
    /// Days overdue at the end of the period: from the due date to the
    /// day the period ends on, so at least 1 (an item due that day is not
    /// overdue yet).
    pub days_overdue: i64,
    /// The issue in the team's tracker (`acme/ops#12`), when synced.
    #[serde(default)]
    pub tracker_key: Option<String>,
    /// The address.
    #[serde(default)]
    pub tracker_url: Option<String>,
}

/// Remediation progress in the period.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
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
    pub completion_rate: Option<f64>,
    /// The overdue items, most overdue first.
    pub overdue_items: Vec<OverdueItem>,
}

/// A post-mortem overdue at the end of the period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OverduePostmortem {
    /// The incident's `INC-n`.
    pub incident: String,
    /// The incident's title.
    pub title: String,
    /// The incident's severity.
    pub severity: Severity,
    /// Who owns the post-mortem.
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
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingCleanup {
    /// The incident's `INC-n`.
    pub incident: String,
    /// What kind of temporary change.
    pub kind: String,
    /// What to undo.
    pub description: String,
    /// Who undoes it.
    pub owner: Option<String>,
    /// Days from its creation to the end of the period.
    pub age_days: i64,
}

/// An incident whose public status updates ran late during the period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
    /// post-mortem names: every factor of the taxonomy (zero included),
    /// then retired factors named in the period. Absent from digests
    /// archived before factors existed.
    #[serde(default)]
    pub contributing_factors: Vec<FactorCount>,
}

/// Days overdue on `today` of something due on `due`, counted as the
/// reminders count them: 1 the day after the due date (on the due date it
/// is due today, not overdue).
pub fn days_overdue(due: NaiveDate, today: NaiveDate) -> i64 {
    (today - due).num_days()
}

/// An incident's start: `started_at`, else `detected_at`, else its record's creation.
pub fn opened_at(incident: &incident::Model) -> DateTime<Utc> {
    incident
        .started_at
        .or(incident.detected_at)
        .unwrap_or(incident.created_at)
}

const OPEN_INCIDENT: [IncidentStatus; 3] = [
    IncidentStatus::Investigating,
    IncidentStatus::Identified,
    IncidentStatus::Monitoring,
];

/// The incidents that were open at some moment of `[from, to)`: started
/// before `to` and resolved at or after `from` (or still open). Every
/// incident opened, mitigated or resolved in the period is among them.
pub async fn active_incidents<C: ConnectionTrait>(
    db: &C,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<incident::Model>, ServiceError> {
    // Two disjoint index ranges, each as short as the period is recent:
    // resolved since `from` (`idx_incidents_resolved_at`), and still open
    // (`idx_incidents_status`). One condition with `OR` over both reads
    // every incident ever opened.
    let mut rows = incident::Entity::find()
        .filter(incident::Column::ResolvedAt.gte(from))
        .all(db)
        .await?;
    rows.extend(
        incident::Entity::find()
            .filter(incident::Column::Status.is_in(OPEN_INCIDENT))
            .filter(incident::Column::ResolvedAt.is_null())
            .all(db)
            .await?,
    );
    rows.retain(|i| opened_at(i) < to);
    rows.sort_by_key(|i| i.number);
    Ok(rows)
}

/// Whether the overdue remediation items and post-mortems are listed or
/// only counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lists {
    /// Every one, with its details.
    Full,
    /// The `n` most overdue of each, with the counts of all: a list that
    /// reads what it shows, however long the history.
    Most(usize),
    /// Their counts only; the lists stay empty.
    CountsOnly,
}

/// What the figures are computed with besides the data: the settings
/// that define them.
#[derive(Debug, Clone, Copy)]
pub struct Definitions<'a> {
    /// The calendar days (due dates).
    pub tz: Tz,
    /// The allowed time between customer updates.
    pub intervals: &'a CustomerUpdateMinutes,
    /// The taxonomy of contributing factors (order and labels).
    pub taxonomy: &'a FactorSettings,
}

/// Every figure for `[from, to)`.
pub async fn period_stats<C: ConnectionTrait>(
    db: &C,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    definitions: Definitions<'_>,
    lists: Lists,
) -> Result<PeriodStats, ServiceError> {
    let Definitions {
        tz,
        intervals,
        taxonomy,
    } = definitions;
    let active = active_incidents(db, from, to).await?;
    let postmortems = postmortem_statuses(db, &active).await?;
    let mut stats = incident_figures(&active, from, to, &postmortems);
    stats.postmortems = postmortem_figures(db, from, to, tz, lists).await?;
    stats.remediations = remediation_figures(db, from, to, tz, lists).await?;
    stats.pending_cleanup = pending_cleanup(db, to).await?;
    stats.late_customer_updates = late_customer_updates(db, &active, from, to, intervals).await?;
    stats.contributing_factors = factors::factor_counts(db, &active, from, to, taxonomy).await?;
    Ok(stats)
}

/// The incident figures of `[from, to)` from the incidents active in it.
pub fn incident_figures(
    active: &[incident::Model],
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    postmortems: &BTreeMap<Uuid, String>,
) -> PeriodStats {
    let within = |at: DateTime<Utc>| at >= from && at < to;
    let mut opened = SeverityCounts::default();
    let mut resolved = SeverityCounts::default();
    let (mut detect, mut acknowledge, mut mitigate, mut resolve) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut incidents = Vec::new();
    for incident in active {
        let start = opened_at(incident);
        if within(start) {
            opened.add(incident.severity);
            if let (Some(s), Some(d)) = (incident.started_at, incident.detected_at) {
                detect.push((d - s).num_seconds());
            }
            if let (Some(d), Some(a)) = (incident.detected_at, incident.acknowledged_at) {
                acknowledge.push((a - d).num_seconds());
            }
            incidents.push(IncidentLine {
                reference: IncidentRef::display(incident.number),
                title: incident.title.clone(),
                severity: incident.severity,
                status: incident.status.as_str().into(),
                opened_at: start,
                duration_seconds: incident.resolved_at.map(|r| (r - start).num_seconds()),
                postmortem_status: postmortems.get(&incident.id).cloned(),
            });
        }
        if let Some(m) = incident.mitigated_at.filter(|m| within(*m)) {
            mitigate.push((m - start).num_seconds());
        }
        if let Some(r) = incident.resolved_at.filter(|r| within(*r)) {
            resolved.add(incident.severity);
            resolve.push((r - start).num_seconds());
        }
    }
    incidents.sort_by(|a, b| {
        a.opened_at
            .cmp(&b.opened_at)
            .then(a.reference.cmp(&b.reference))
    });
    PeriodStats {
        from,
        to,
        opened,
        resolved,
        response_times: ResponseTimes {
            detect: DurationFigure::of(detect),
            acknowledge: DurationFigure::of(acknowledge),
            mitigate: DurationFigure::of(mitigate),
            resolve: DurationFigure::of(resolve),
        },
        incidents,
        postmortems: PostmortemFigures::default(),
        remediations: RemediationFigures::default(),
        pending_cleanup: Vec::new(),
        late_customer_updates: Vec::new(),
        contributing_factors: Vec::new(),
    }
}

/// The post-mortem status of each of `incidents` that has one.
async fn postmortem_statuses<C: ConnectionTrait>(
    db: &C,
    incidents: &[incident::Model],
) -> Result<BTreeMap<Uuid, String>, ServiceError> {
    let mut statuses = BTreeMap::new();
    for chunk in incidents.chunks(500) {
        let rows: Vec<(Uuid, PostmortemStatus)> = postmortem::Entity::find()
            .select_only()
            .columns([postmortem::Column::IncidentId, postmortem::Column::Status])
            .filter(postmortem::Column::IncidentId.is_in(chunk.iter().map(|i| i.id)))
            .into_tuple()
            .all(db)
            .await?;
        statuses.extend(rows.into_iter().map(|(id, s)| (id, s.as_str().to_owned())));
    }
    Ok(statuses)
}

/// Cleanup items created before `to` and pending then: pending now, or
/// changed (undone or kept) only at or after `to`.
async fn pending_cleanup<C: ConnectionTrait>(
    db: &C,
    to: DateTime<Utc>,
) -> Result<Vec<PendingCleanup>, ServiceError> {
    let rows = cleanup_item::Entity::find()
        .filter(cleanup_item::Column::CreatedAt.lt(to))
        .filter(
            Condition::any()
                .add(cleanup_item::Column::Status.eq(CleanupStatus::Pending))
                .add(cleanup_item::Column::UpdatedAt.gte(to)),
        )
        .find_also_related(incident::Entity)
        .order_by_asc(cleanup_item::Column::CreatedAt)
        .order_by_asc(cleanup_item::Column::Id)
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .map(|(item, incident)| PendingCleanup {
            incident: incident
                .map(|i| IncidentRef::display(i.number))
                .unwrap_or_default(),
            kind: item.kind.as_str().into(),
            description: item.description,
            owner: item.owner,
            age_days: (to - item.created_at).num_days(),
        })
        .collect())
}

fn allowed_minutes(intervals: &CustomerUpdateMinutes, severity: Severity) -> Option<u32> {
    match severity {
        Severity::Sev1 => intervals.sev1,
        Severity::Sev2 => intervals.sev2,
        Severity::Sev3 => intervals.sev3,
        Severity::Sev4 => intervals.sev4,
    }
    .filter(|m| *m > 0)
}

/// Incidents that, at some moment of `[from, to)` while open, had gone
/// longer than their severity's interval without a public status update
/// (counted from the incident's start, then from each update).
async fn late_customer_updates<C: ConnectionTrait>(
    db: &C,
    active: &[incident::Model],
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    intervals: &CustomerUpdateMinutes,
) -> Result<Vec<LateCustomerUpdates>, ServiceError> {
    let watched: Vec<&incident::Model> = active
        .iter()
        .filter(|i| allowed_minutes(intervals, i.severity).is_some())
        .collect();
    let mut updates: BTreeMap<Uuid, Vec<DateTime<Utc>>> = BTreeMap::new();
    for chunk in watched.chunks(500) {
        let ids: Vec<Uuid> = chunk.iter().map(|i| i.id).collect();
        for update in status_update::Entity::find()
            .filter(status_update::Column::IncidentId.is_in(ids))
            .filter(status_update::Column::PostedAt.lt(to))
            .all(db)
            .await?
        {
            updates
                .entry(update.incident_id)
                .or_default()
                .push(update.posted_at);
        }
    }
    let mut late = Vec::new();
    for incident in watched {
        let allowed = allowed_minutes(intervals, incident.severity).unwrap_or(u32::MAX);
        let limit = Duration::minutes(i64::from(allowed));
        let end = incident.resolved_at.map_or(to, |r| r.min(to));
        let mut marks = vec![opened_at(incident)];
        let mut posted = updates.remove(&incident.id).unwrap_or_default();
        posted.sort_unstable();
        marks.extend(posted.into_iter().filter(|p| *p < end));
        marks.push(end);
        let longest = marks
            .windows(2)
            .filter(|w| {
                let late_from = w[0] + limit;
                w[1] - w[0] > limit && late_from < to && w[1] > from
            })
            .map(|w| (w[1] - w[0]).num_minutes())
            .max();
        if let Some(longest_gap_minutes) = longest {
            late.push(LateCustomerUpdates {
                incident: IncidentRef::display(incident.number),
                title: incident.title.clone(),
                severity: incident.severity,
                allowed_minutes: allowed,
                longest_gap_minutes,
            });
        }
    }
    Ok(late)
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;

    use super::{days_overdue, median};

    #[test]
    fn overdue_counts_start_at_one() {
        let day = |d| NaiveDate::from_ymd_opt(2026, 11, d).unwrap();
        assert_eq!(days_overdue(day(22), day(23)), 1, "due yesterday");
        assert_eq!(days_overdue(day(13), day(23)), 10);
    }

    #[test]
    fn median_is_the_middle_or_the_mean_of_the_two_middles() {
        assert_eq!(median(&[]), None);
        assert_eq!(median(&[7]), Some(7));
        assert_eq!(median(&[1, 2, 10]), Some(2));
        assert_eq!(median(&[1, 2, 3, 10]), Some(2), "(2 + 3) / 2 rounded down");
        assert_eq!(median(&[60, 120]), Some(90));
    }
}
