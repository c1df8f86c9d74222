//! Related incidents: the (at most five) other incidents most like one,
//! each with the reasons it was chosen and its open remediation items.
//!
//! Candidates come from the search index: an `OR` query of the incident's
//! components, labels and significant title and impact words, over the
//! incidents' entries only (their `title` and `facts` columns on SQLite,
//! the partial GIN index of incident entries on PostgreSQL). Each
//! candidate is then scored here, the same way on both databases, from
//! the signals it shares with the incident: components, labels,
//! contributing factors and words.

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, NaiveDate, Utc};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, QueryFilter, QueryOrder, Statement,
};
use uuid::Uuid;

use super::{Binds, Part, Window, matches_sql, query_text};
use crate::{
    domain::{
        IncidentRef, IncidentStatus, Priority, RemediationRef, RemediationStatus, Severity,
        search::{Phrase, SearchQuery, normalize, tokens},
    },
    entities::{incident, remediation_incident, remediation_item},
    services::{
        Context, ServiceError, find_incident,
        postmortems::{factor_views, factors_of_incidents},
    },
};

/// Most incidents returned.
pub const MAX_RELATED: usize = 5;
/// Candidates read from the index before scoring.
const CANDIDATES: i64 = 50;
/// Most matching incidents ranked for candidates, the newest: the work of
/// one request stays bounded however many incidents share a common word.
const NEWEST_MATCHES: i64 = 2_000;
/// Most words and names of the incident put into the candidate query.
const MAX_QUERY_TOKENS: usize = 16;
/// Most shared words counted towards the score.
const MAX_SHARED_WORDS: usize = 5;

/// What one shared signal adds to a candidate's score.
const COMPONENT_WEIGHT: usize = 3;
const LABEL_WEIGHT: usize = 2;
const FACTOR_WEIGHT: usize = 3;
const WORD_WEIGHT: usize = 1;

/// Words too common to say two incidents are alike.
const STOP_WORDS: &[&str] = &[
    "the",
    "and",
    "for",
    "with",
    "from",
    "that",
    "this",
    "was",
    "were",
    "are",
    "has",
    "had",
    "have",
    "not",
    "but",
    "all",
    "any",
    "can",
    "our",
    "out",
    "some",
    "into",
    "when",
    "after",
    "before",
    "during",
    "due",
    "via",
    "its",
    "their",
    "they",
    "been",
    "being",
    "over",
    "under",
    "more",
    "less",
    "than",
    "then",
    "also",
    "only",
    "other",
    "which",
    "while",
    "who",
    "customers",
    "customer",
    "users",
    "some",
    "incident",
    "issue",
    "issues",
];

/// An open remediation item of a related incident.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenRemediation {
    pub reference: String,
    pub title: String,
    pub status: RemediationStatus,
    pub priority: Priority,
    pub owner: Option<String>,
    pub due_date: Option<NaiveDate>,
}

/// One related incident and why it was chosen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelatedIncident {
    pub id: Uuid,
    pub reference: String,
    pub title: String,
    pub severity: Severity,
    pub status: IncidentStatus,
    pub started_at: Option<DateTime<Utc>>,
    /// The sum of the weights of what it shares; higher is closer.
    pub score: usize,
    /// Why it was chosen, one sentence per shared signal.
    pub reasons: Vec<String>,
    pub shared_components: Vec<String>,
    pub shared_labels: Vec<String>,
    pub shared_factors: Vec<String>,
    pub shared_words: Vec<String>,
    pub open_remediations: Vec<OpenRemediation>,
}

/// What an incident is compared on.
#[derive(Debug, Default)]
struct Signals {
    components: BTreeSet<String>,
    labels: BTreeSet<String>,
    factors: BTreeSet<String>,
    words: BTreeSet<String>,
}

impl Signals {
    fn of(incident: &incident::Model, factors: &[String]) -> Self {
        let names = |list: &[String]| -> BTreeSet<String> {
            list.iter().map(|n| normalize(n.trim())).collect()
        };
        let mut text = incident.title.clone();
        if let Some(impact) = &incident.customer_impact {
            text.push(' ');
            text.push_str(impact);
        }
        Self {
            components: names(&incident.affected_components.0),
            labels: names(&incident.labels.0),
            factors: factors.iter().cloned().collect(),
            words: tokens(&text)
                .into_iter()
                .filter(|w| significant(w))
                .collect(),
        }
    }

    /// The `OR` query that finds candidates: names first, then words.
    fn query(&self) -> Option<SearchQuery> {
        let mut alternatives: Vec<Phrase> = Vec::new();
        let mut budget = MAX_QUERY_TOKENS;
        let names = self
            .components
            .iter()
            .chain(&self.labels)
            .map(|n| tokens(n));
        let words = self.words.iter().map(|w| vec![w.clone()]);
        for phrase_tokens in names.chain(words) {
            if phrase_tokens.is_empty() || phrase_tokens.len() > budget {
                continue;
            }
            budget -= phrase_tokens.len();
            let phrase = Phrase {
                tokens: phrase_tokens,
                prefix: false,
            };
            if !alternatives.contains(&phrase) {
                alternatives.push(phrase);
            }
        }
        (!alternatives.is_empty()).then(|| SearchQuery {
            clauses: vec![alternatives],
            excluded: Vec::new(),
        })
    }
}

fn significant(word: &str) -> bool {
    word.chars().count() >= 3
        && !word.chars().all(|c| c.is_ascii_digit())
        && !STOP_WORDS.contains(&word)
}

/// The incidents most like `reference`, best first.
pub async fn related(
    ctx: &Context,
    reference: IncidentRef,
) -> Result<Vec<RelatedIncident>, ServiceError> {
    let target = find_incident(&ctx.db, reference).await?;
    related_to(ctx, &target).await
}

/// The incidents most like `target`, best first.
pub async fn related_to(
    ctx: &Context,
    target: &incident::Model,
) -> Result<Vec<RelatedIncident>, ServiceError> {
    let db = &ctx.db;
    let mut signals = Signals::of(target, &[]);
    let Some(query) = signals.query() else {
        return Ok(Vec::new());
    };
    let candidates = candidate_numbers(ctx, &query, target.id).await?;
    if candidates.is_empty() {
        return Ok(Vec::new());
    }
    let models = incident::Entity::find()
        .filter(incident::Column::Number.is_in(candidates.iter().copied()))
        .all(db)
        .await?;
    // The contributing factors of the incident and its candidates, by
    // label (one statement): one more signal, not a source of candidates.
    let mut ids: Vec<Uuid> = models.iter().map(|m| m.id).collect();
    ids.push(target.id);
    let factors = factor_labels(ctx, &ids).await?;
    if let Some(own) = factors.get(&target.id) {
        signals.factors = own.iter().cloned().collect();
    }
    let text_rank: HashMap<i64, usize> = candidates
        .iter()
        .enumerate()
        .map(|(place, number)| (*number, place))
        .collect();
    let mut chosen: Vec<(usize, RelatedIncident)> = models
        .into_iter()
        .filter_map(|model| {
            let place = text_rank.get(&model.number).copied().unwrap_or(usize::MAX);
            let theirs = factors.get(&model.id).map_or(&[][..], Vec::as_slice);
            compare(&signals, &model, theirs).map(|related| (place, related))
        })
        .collect();
    // Most shared first; among equals, the better text match, then the
    // most recent.
    chosen.sort_by(|(pa, a), (pb, b)| {
        b.score
            .cmp(&a.score)
            .then(pa.cmp(pb))
            .then(b.started_at.cmp(&a.started_at))
    });
    chosen.truncate(MAX_RELATED);
    let mut related: Vec<RelatedIncident> = chosen.into_iter().map(|(_, r)| r).collect();
    attach_open_remediations(ctx, &mut related).await?;
    Ok(related)
}

/// The labels of the contributing factors of each incident that names any.
async fn factor_labels(
    ctx: &Context,
    ids: &[Uuid],
) -> Result<HashMap<Uuid, Vec<String>>, ServiceError> {
    let rows = factors_of_incidents(&ctx.db, ids).await?;
    Ok(rows
        .into_iter()
        .map(|(id, rows)| {
            let labels = factor_views(&ctx.settings.factors, rows)
                .into_iter()
                .map(|f| f.label)
                .collect();
            (id, labels)
        })
        .collect())
}

/// The candidates' incident numbers, best text match first.
async fn candidate_numbers(
    ctx: &Context,
    query: &SearchQuery,
    exclude: Uuid,
) -> Result<Vec<i64>, ServiceError> {
    let backend = ctx.db.get_database_backend();
    let mut binds = Binds::new(backend);
    let text = match backend {
        DbBackend::Postgres => query_text(backend, query),
        _ => format!("{{title facts}} : {}", query_text(backend, query)),
    };
    let matches = matches_sql(
        &mut binds,
        text,
        Part::Entries,
        Window::NewestIncidents(NEWEST_MATCHES),
    );
    let exclude = binds.bind(exclude);
    let limit = binds.bind(CANDIDATES);
    // The best matches are cut before the joins (twice as many as needed:
    // on SQLite, section and remediation item titles match too).
    let first = binds.bind(2 * CANDIDATES);
    let sql = format!(
        "SELECT i.number AS number FROM \
           (SELECT mm.id, mm.score FROM ({matches}) mm \
            ORDER BY mm.score DESC, mm.id LIMIT {first}) m \
         JOIN search_entries e ON e.id = -m.id \
         JOIN incidents i ON i.id = e.incident_id \
         WHERE e.kind = 'incident' AND e.incident_id <> {exclude} \
         ORDER BY m.score DESC, m.id LIMIT {limit}"
    );
    let rows = ctx
        .db
        .query_all_raw(Statement::from_sql_and_values(backend, sql, binds.values))
        .await?;
    rows.iter()
        .map(|row| Ok(row.try_get("", "number")?))
        .collect()
}

/// The candidate as a related incident, if it shares anything that counts.
fn compare(
    target: &Signals,
    candidate: &incident::Model,
    factors: &[String],
) -> Option<RelatedIncident> {
    let theirs = Signals::of(candidate, factors);
    let shared = |a: &BTreeSet<String>, b: &BTreeSet<String>| -> Vec<String> {
        a.intersection(b).cloned().collect()
    };
    let shared_components = shared(&target.components, &theirs.components);
    let shared_labels = shared(&target.labels, &theirs.labels);
    let shared_factors = shared(&target.factors, &theirs.factors);
    let mut shared_words = shared(&target.words, &theirs.words);
    shared_words.truncate(MAX_SHARED_WORDS);
    let score = COMPONENT_WEIGHT * shared_components.len()
        + LABEL_WEIGHT * shared_labels.len()
        + FACTOR_WEIGHT * shared_factors.len()
        + WORD_WEIGHT * shared_words.len();
    if score == 0 {
        return None;
    }
    let mut reasons = Vec::new();
    for (what, list) in [
        ("affected components", &shared_components),
        ("labels", &shared_labels),
        ("contributing factors", &shared_factors),
        ("words in title or impact", &shared_words),
    ] {
        if !list.is_empty() {
            reasons.push(format!("Shares {what}: {}", list.join(", ")));
        }
    }
    Some(RelatedIncident {
        id: candidate.id,
        reference: IncidentRef::display(candidate.number),
        title: candidate.title.clone(),
        severity: candidate.severity,
        status: candidate.status,
        started_at: candidate.started_at,
        score,
        reasons,
        shared_components,
        shared_labels,
        shared_factors,
        shared_words,
        open_remediations: Vec::new(),
    })
}

/// Fill in each related incident's open remediation items (one statement).
async fn attach_open_remediations(
    ctx: &Context,
    related: &mut [RelatedIncident],
) -> Result<(), ServiceError> {
    if related.is_empty() {
        return Ok(());
    }
    let rows = remediation_incident::Entity::find()
        .find_also_related(remediation_item::Entity)
        .filter(remediation_incident::Column::IncidentId.is_in(related.iter().map(|r| r.id)))
        .filter(remediation_item::Column::Status.is_in([
            RemediationStatus::Open,
            RemediationStatus::InProgress,
            RemediationStatus::Blocked,
        ]))
        .order_by_asc(remediation_item::Column::Number)
        .all(&ctx.db)
        .await?;
    for (link, item) in rows {
        let Some(item) = item else { continue };
        if let Some(incident) = related.iter_mut().find(|r| r.id == link.incident_id) {
            incident.open_remediations.push(OpenRemediation {
                reference: RemediationRef::display(item.number),
                title: item.title,
                status: item.status,
                priority: item.priority,
                owner: item.owner,
                due_date: item.due_date,
            });
        }
    }
    Ok(())
}
