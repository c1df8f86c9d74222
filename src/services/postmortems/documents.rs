//! Documents: building the internal and public post-mortem documents from
//! the incident's record, with the rules that keep the public one clean.

use super::*;
use crate::domain::RedactionKind;

/// Everything recorded about an incident that a document shows.
#[derive(Debug)]
pub(super) struct Record {
    pub(super) view: PostmortemView,
    pub(super) roles: Vec<role_assignment::Model>,
    pub(super) timeline: Vec<timeline_event::Model>,
    pub(super) sitreps: Vec<sitrep::Model>,
    pub(super) status_updates: Vec<status_update::Model>,
    pub(super) cleanup: Vec<cleanup_item::Model>,
    pub(super) remediations: Vec<remediation_item::Model>,
    /// Similar past incidents (shown in the internal document only).
    pub(super) related: Vec<crate::services::search::related::RelatedIncident>,
}

pub(super) async fn load_record(
    ctx: &Context,
    reference: IncidentRef,
) -> Result<Record, ServiceError> {
    let view = get(ctx, reference).await?;
    let id = view.incident.id;
    let db = &ctx.db;
    let roles = crate::services::roles::list_for(db, id).await?;
    // Streamed: the rows of a long timeline are not all held at once
    // beside their models.
    let timeline = timeline_event::Entity::find()
        .filter(timeline_event::Column::IncidentId.eq(id))
        .order_by_asc(timeline_event::Column::OccurredAt)
        .order_by_asc(timeline_event::Column::Id)
        .stream(db)
        .await?
        .try_collect()
        .await?;
    let sitreps = crate::services::sitreps::list_for(db, id).await?;
    let status_updates = crate::services::status_updates::list_for(db, id).await?;
    let cleanup = crate::services::cleanup::list_for(db, id).await?;
    let remediations = remediation_item::Entity::find()
        .inner_join(remediation_incident::Entity)
        .filter(remediation_incident::Column::IncidentId.eq(id))
        .order_by_asc(remediation_item::Column::Number)
        .all(db)
        .await?;
    let related = crate::services::search::related::related_to(ctx, &view.incident).await?;
    Ok(Record {
        view,
        roles,
        timeline,
        sitreps,
        status_updates,
        cleanup,
        remediations,
        related,
    })
}

/// Times as documents print them: in the display zone, zone written out.
#[derive(Debug, Clone, Copy)]
pub struct TimeFormat {
    zone: Tz,
}

impl TimeFormat {
    pub fn new(zone: Tz) -> Self {
        Self { zone }
    }

    pub fn time(&self, at: DateTime<Utc>) -> String {
        at.with_timezone(&self.zone)
            .format("%Y-%m-%d %H:%M %Z")
            .to_string()
    }

    pub fn zone_name(&self) -> String {
        self.zone.name().to_string()
    }
}

/// The time from one milestone to another, written as every figure is
/// ([`figures::duration`]); "not recorded" without both.
fn between(from: Option<DateTime<Utc>>, to: Option<DateTime<Utc>>) -> String {
    match (from, to) {
        (Some(a), Some(b)) => figures::duration((b - a).num_seconds()),
        _ => "not recorded".into(),
    }
}

/// A time figure as a document lists it: its label (which says what it
/// counts from) and its value.
fn time_figure(label: &str, from: Option<DateTime<Utc>>, to: Option<DateTime<Utc>>) -> Figure {
    Figure {
        label: figures::capitalised(label),
        value: between(from, to),
    }
}

/// The role a person is shown as in public documents.
fn public_role(role: &str) -> &'static str {
    match role {
        "incident_commander" => "the incident commander",
        "comms" => "the communications lead",
        "scribe" => "the scribe",
        "subject_matter_expert" => "a subject-matter expert",
        _ => "a responder",
    }
}

/// Whether `event` is one of Debrief's own notes that only records when
/// history was entered. Debrief writes its notes when it is told (an
/// incident opened, a role assigned, a sitrep issued, a status changed),
/// which for a live incident is the time they describe. An incident
/// recorded after it was resolved — back-filled through the API, or
/// brought in by an import with its own notes — gets notes dated after
/// its resolution ("Incident INC-6 opened as sev1, status resolved."):
/// they describe the data entry, not the incident, so documents leave
/// them out. The timeline API keeps them, as the record of who entered
/// what when.
fn records_only_data_entry(incident: &incident::Model, event: &timeline_event::Model) -> bool {
    event.source == EventSource::System
        && incident
            .resolved_at
            .is_some_and(|resolved| incident.created_at > resolved && event.occurred_at > resolved)
}

/// Where each piece of public text came from: (field, the text as
/// redaction left it).
pub(super) type Sources = Vec<(String, String)>;

/// The document of `record` as generated at `at` (the time it prints).
pub(super) fn build_document(
    ctx: &Context,
    record: &Record,
    variant: Variant,
    rules: &RedactionRules,
    sources: &mut Sources,
    at: DateTime<Utc>,
) -> Result<PostmortemDocument, ServiceError> {
    let zone = ctx
        .settings
        .display_zone()
        .map_err(|e| ServiceError::Internal(e.into()))?;
    let fmt = TimeFormat::new(zone);
    let public = variant == Variant::Public;
    let text = shown_text(record, public, rules, sources, &fmt);
    let milestones = milestones(&record.view.incident, public, &fmt);
    let document = if public {
        public_document(variant, text, milestones, &fmt, at)
    } else {
        internal_document(record, variant, text, milestones, &fmt, at)
    };
    Ok(document)
}

/// The text a document shows that a reader wrote, redacted (and each
/// piece noted in `sources`) in a public document.
struct ShownText {
    title: String,
    affected_components: Vec<String>,
    sections: Vec<SectionBlock>,
    timeline: Vec<TimelineRow>,
    status_updates: Vec<StatusUpdateRow>,
}

fn shown_text(
    record: &Record,
    public: bool,
    rules: &RedactionRules,
    sources: &mut Sources,
    fmt: &TimeFormat,
) -> ShownText {
    let incident = &record.view.incident;
    let mut clean = |field: String, text: &str| -> String {
        if public {
            let redacted = rules.redact(text);
            sources.push((field, redacted.clone()));
            redacted
        } else {
            text.to_string()
        }
    };
    let title = clean("incident.title".into(), &incident.title);
    let affected_components = incident
        .affected_components
        .to_vec()
        .iter()
        .enumerate()
        .map(|(i, c)| clean(format!("incident.affected_components[{i}]"), c))
        .collect();
    let sections = record
        .view
        .sections
        .iter()
        .filter(|s| !public || s.visibility == Visibility::Public)
        .map(|s| SectionBlock {
            key: s.key.clone(),
            title: clean(format!("sections.{}.title", s.key), &s.title),
            body: clean(format!("sections.{}.body", s.key), &s.body),
            visibility: s.visibility.as_str().into(),
        })
        .collect();
    let timeline = record
        .timeline
        .iter()
        .filter(|e| !public || e.visibility == Visibility::Public)
        .filter(|e| !records_only_data_entry(incident, e))
        .map(|e| TimelineRow {
            at: fmt.time(e.occurred_at),
            kind: figures::words(e.kind.as_str()),
            author: if public {
                String::new()
            } else {
                e.author.clone().unwrap_or_default()
            },
            body: clean(
                format!("timeline event {} ({})", e.id, fmt.time(e.occurred_at)),
                &e.body,
            ),
        })
        .collect();
    let status_updates = record
        .status_updates
        .iter()
        .map(|u| StatusUpdateRow {
            at: fmt.time(u.posted_at),
            status: figures::words(u.status.as_str()),
            message: clean(
                format!("status update {} ({})", u.id, fmt.time(u.posted_at)),
                &u.message,
            ),
        })
        .collect();
    ShownText {
        title,
        affected_components,
        sections,
        timeline,
        status_updates,
    }
}

/// The incident's milestones: all of them internally, the start and the
/// resolution (with the time to resolve) publicly.
fn milestones(incident: &incident::Model, public: bool, fmt: &TimeFormat) -> Vec<Figure> {
    let mut milestones = Vec::new();
    let named = [
        ("Started", incident.started_at),
        ("Detected", incident.detected_at),
        ("Acknowledged", incident.acknowledged_at),
        ("Mitigated", incident.mitigated_at),
        ("Resolved", incident.resolved_at),
        ("Closed", incident.closed_at),
    ];
    for (label, at) in named {
        if public && !matches!(label, "Started" | "Resolved") {
            continue;
        }
        if let Some(at) = at {
            milestones.push(Figure {
                label: label.into(),
                value: fmt.time(at),
            });
        }
    }
    // The time figures count as the digest's do (README, "Digest
    // figures"): from the incident's start, or from detection for the
    // time to acknowledge.
    let start = Some(stats::opened_at(incident));
    if public && incident.resolved_at.is_some() {
        milestones.push(time_figure(
            figures::TIME_TO_RESOLVE,
            start,
            incident.resolved_at,
        ));
    }
    milestones
}

/// The response times, as the digest counts them (README, "Digest
/// figures"): from the incident's start, or from detection for the time to
/// acknowledge.
fn time_figures(incident: &incident::Model) -> Vec<Figure> {
    let start = Some(stats::opened_at(incident));
    vec![
        time_figure(
            figures::TIME_TO_DETECT,
            incident.started_at,
            incident.detected_at,
        ),
        time_figure(
            figures::TIME_TO_ACKNOWLEDGE,
            incident.detected_at,
            incident.acknowledged_at,
        ),
        time_figure(figures::TIME_TO_MITIGATE, start, incident.mitigated_at),
        time_figure(figures::TIME_TO_RESOLVE, start, incident.resolved_at),
    ]
}

/// A public document: the shown text and the milestones, without people,
/// internal fields or figures.
fn public_document(
    variant: Variant,
    text: ShownText,
    milestones: Vec<Figure>,
    fmt: &TimeFormat,
    at: DateTime<Utc>,
) -> PostmortemDocument {
    PostmortemDocument {
        variant,
        reference: String::new(),
        title: text.title,
        severity: String::new(),
        incident_status: String::new(),
        status: String::new(),
        kind: String::new(),
        owner: None,
        due_date: None,
        review_at: None,
        customer_impact: None,
        affected_components: text.affected_components,
        time_zone: fmt.zone_name(),
        milestones,
        figures: Vec::new(),
        roles: Vec::new(),
        timeline: text.timeline,
        sitreps: Vec::new(),
        status_updates: text.status_updates,
        cleanup_items: Vec::new(),
        remediations: Vec::new(),
        sections: text.sections,
        related: Vec::new(),
        // Contributing factors are the team's own analysis, and their
        // notes name systems and people: internal only (docs/decisions.md).
        factors: Vec::new(),
        factors_section: false,
        generated_at: fmt.time(at),
    }
}

/// An internal document: everything recorded.
fn internal_document(
    record: &Record,
    variant: Variant,
    text: ShownText,
    milestones: Vec<Figure>,
    fmt: &TimeFormat,
    at: DateTime<Utc>,
) -> PostmortemDocument {
    let incident = &record.view.incident;
    let pm = &record.view.postmortem;
    PostmortemDocument {
        variant,
        reference: IncidentRef::display(incident.number),
        title: text.title,
        severity: incident.severity.as_str().into(),
        incident_status: figures::words(incident.status.as_str()),
        status: figures::words(pm.status.as_str()),
        kind: figures::words(pm.kind.as_str()),
        owner: pm.owner.clone(),
        due_date: record.view.due_date.map(|d| d.to_string()),
        review_at: pm.review_at.map(|at| fmt.time(at)),
        customer_impact: incident.customer_impact.clone(),
        affected_components: text.affected_components,
        time_zone: fmt.zone_name(),
        milestones,
        figures: time_figures(incident),
        roles: role_rows(record, fmt),
        timeline: text.timeline,
        sitreps: sitrep_rows(record, fmt),
        status_updates: text.status_updates,
        cleanup_items: cleanup_rows(record),
        remediations: remediation_rows(record),
        factors_section: text
            .sections
            .iter()
            .any(|s| s.key == "contributing_factors"),
        sections: text.sections,
        related: related_rows(record, fmt),
        factors: record
            .view
            .factors
            .iter()
            .map(|f| FactorRow {
                label: f.label.clone(),
                note: f.row.note.clone(),
                retired: f.retired,
            })
            .collect(),
        generated_at: fmt.time(at),
    }
}

fn related_rows(record: &Record, fmt: &TimeFormat) -> Vec<RelatedRow> {
    record
        .related
        .iter()
        .map(|r| {
            let open: Vec<String> = r
                .open_remediations
                .iter()
                .map(|item| {
                    let due = item
                        .due_date
                        .map(|d| format!(", due {d}"))
                        .unwrap_or_default();
                    format!(
                        "{} {} ({}{due})",
                        item.reference,
                        item.title,
                        figures::words(item.status.as_str())
                    )
                })
                .collect();
            RelatedRow {
                reference: r.reference.clone(),
                title: r.title.clone(),
                severity: r.severity.as_str().into(),
                status: figures::words(r.status.as_str()),
                started_at: r
                    .started_at
                    .map_or_else(|| "not recorded".into(), |at| fmt.time(at)),
                reasons: r.reasons.join("; "),
                open_remediations: if open.is_empty() {
                    "none".into()
                } else {
                    open.join("; ")
                },
            }
        })
        .collect()
}

fn role_rows(record: &Record, fmt: &TimeFormat) -> Vec<RoleRow> {
    record
        .roles
        .iter()
        .map(|r| RoleRow {
            role: figures::words(&r.role),
            person: r.person.clone(),
            assigned_at: fmt.time(r.assigned_at),
            relieved_at: r.relieved_at.map(|at| fmt.time(at)),
        })
        .collect()
}

fn sitrep_rows(record: &Record, fmt: &TimeFormat) -> Vec<SitrepRow> {
    record
        .sitreps
        .iter()
        .map(|s| SitrepRow {
            version: s.version,
            at: fmt.time(s.created_at),
            author: s.author.clone().unwrap_or_default(),
            summary: s.summary.clone(),
        })
        .collect()
}

fn cleanup_rows(record: &Record) -> Vec<CleanupRow> {
    record
        .cleanup
        .iter()
        .map(|c| CleanupRow {
            kind: figures::words(c.kind.as_str()),
            description: c.description.clone(),
            owner: c.owner.clone().unwrap_or_default(),
            status: match &c.reason {
                Some(reason) if c.status == CleanupStatus::Kept => {
                    format!("kept: {reason}")
                }
                _ => c.status.as_str().into(),
            },
        })
        .collect()
}

fn remediation_rows(record: &Record) -> Vec<RemediationRow> {
    record
        .remediations
        .iter()
        .map(|r| RemediationRow {
            reference: format!("REM-{}", r.number),
            title: r.title.clone(),
            kind: figures::words(r.kind.as_str()),
            priority: r.priority.as_str().into(),
            owner: r.owner.clone().unwrap_or_default(),
            status: figures::words(r.status.as_str()),
            due_date: r.due_date.map_or_else(|| "—".into(), |d| d.to_string()),
        })
        .collect()
}

/// The redaction rules of an incident's public document: built-in
/// patterns, global and incident rules, and every person named in the
/// record (shown by role).
pub(super) fn public_rules(
    ctx: &Context,
    record: &Record,
    stored: &[crate::entities::redaction_rule::Model],
) -> Result<RedactionRules, ServiceError> {
    let mut rules = RedactionRules::with_builtins(&ctx.settings.documents.internal_domains);
    for rule in stored {
        let origin = if rule.incident_id.is_some() {
            RuleOrigin::Incident
        } else {
            RuleOrigin::Global
        };
        match rule.kind {
            RedactionKind::Pattern => rules.add_pattern(&rule.value, origin).map_err(|e| {
                ServiceError::Internal(
                    anyhow::Error::new(e).context("a stored redaction pattern does not compile"),
                )
            })?,
            RedactionKind::Term => rules.add_term(&rule.value, origin),
        }
    }
    let mut people: BTreeMap<String, &'static str> = BTreeMap::new();
    for r in &record.roles {
        let role = public_role(&r.role);
        let entry = people.entry(r.person.clone()).or_insert(role);
        if role != "a responder" {
            *entry = role;
        }
    }
    // Event authors count as people only from sources where people write
    // (not Debrief's own `system` events), and never under a tool's name.
    let others = record
        .timeline
        .iter()
        .filter(|e| e.source != EventSource::System)
        .filter_map(|e| e.author.clone())
        .chain(record.sitreps.iter().filter_map(|s| s.author.clone()))
        .chain(record.cleanup.iter().filter_map(|c| c.owner.clone()))
        .chain(record.remediations.iter().filter_map(|r| r.owner.clone()))
        .chain(record.view.postmortem.owner.clone());
    for person in others {
        people.entry(person).or_insert("a responder");
    }
    for (person, role) in people {
        if !is_tool_name(&person) {
            rules.add_person(&person, role);
        }
    }
    Ok(rules)
}

/// Names of the tools and systems an incident record is written by: never
/// taken for a person's name, even when a tool is recorded as an author.
const TOOL_NAMES: &[&str] = &[
    "system",
    "debrief",
    "pagerduty",
    "statuspage",
    "slack",
    "slackbot",
    "opsgenie",
    "datadog",
    "grafana",
    "prometheus",
    "alertmanager",
];

fn is_tool_name(name: &str) -> bool {
    let name = name.trim().to_lowercase();
    TOOL_NAMES.contains(&name.as_str()) || name.ends_with(" bot") || name.ends_with("[bot]")
}
