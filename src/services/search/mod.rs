//! Search across incidents, timeline events, sitreps, post-mortem sections
//! and remediation items, over the index the triggers of migration
//! `m20261201_000012_search` keep: one statement per page (FTS5 `MATCH`
//! ranked by bm25 on SQLite, `@@` ranked by `ts_rank` on PostgreSQL), the
//! snippets built in Rust ([`snippet`]).

pub mod merge;
pub mod related;
mod snippet;

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DbBackend, QueryResult, Statement, Value};
use serde::{Deserialize, Serialize};

use super::{
    Context, ServiceError,
    pagination::{Page, PageRequest},
};
use crate::domain::{
    IncidentRef, RemediationRef, Severity,
    search::{Phrase, SearchKind, SearchQuery},
};

/// Which hits to keep, besides the query.
#[derive(Debug, Clone, Default)]
pub struct SearchFilter {
    /// Only these kinds (all when empty).
    pub kinds: Vec<SearchKind>,
    /// Only hits of incidents of this severity (a remediation item: of one
    /// of its incidents).
    pub severity: Option<Severity>,
    /// Only hits of incidents started at or after this time.
    pub since: Option<DateTime<Utc>>,
    /// Only hits of incidents started before this time.
    pub until: Option<DateTime<Utc>>,
}

/// Where a page ends: the score and entry id of its last hit.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct SearchCursor(f64, i64);

/// One hit.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchHit {
    pub kind: SearchKind,
    /// `INC-n` or `REM-n`.
    pub reference: String,
    /// The incident the hit belongs to (none for a remediation item).
    pub incident: Option<String>,
    pub title: String,
    /// HTML-escaped text with the matched words inside `<mark>…</mark>`.
    pub snippet: String,
    /// The API path of the record.
    pub link: String,
    /// Relevance: higher is better; comparable within one query only.
    pub rank: f64,
}

/// Placeholders of one statement, numbered, so a value can be used twice.
pub(crate) struct Binds {
    postgres: bool,
    pub values: Vec<Value>,
}

impl Binds {
    pub fn new(backend: DbBackend) -> Self {
        Self {
            postgres: backend == DbBackend::Postgres,
            values: Vec::new(),
        }
    }

    /// Bind a value; its placeholder.
    pub fn bind(&mut self, value: impl Into<Value>) -> String {
        self.values.push(value.into());
        let n = self.values.len();
        if self.postgres {
            format!("${n}")
        } else {
            format!("?{n}")
        }
    }
}

/// Which part of the index a statement searches: timeline events are
/// indexed from their own rows (positive ids: their `seq`), every other
/// kind through `search_entries` (negative ids: the entry's id negated).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Part {
    All,
    Entries,
    Events,
}

impl Part {
    fn of(kinds: &[SearchKind]) -> Self {
        let events = kinds.contains(&SearchKind::TimelineEvent);
        match (kinds.is_empty(), events, kinds.len()) {
            (true, _, _) => Part::All,
            (false, true, 1) => Part::Events,
            (false, true, _) => Part::All,
            (false, false, _) => Part::Entries,
        }
    }
}

/// How many of the matches a statement ranks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Window {
    /// Every match.
    All,
    /// The newest `n` matches of each part of the index (timeline events;
    /// the other records): a broad search with no filter (setting
    /// `search_rank_window`), so that a word in a large share of the rows
    /// costs a bounded number of rank computations.
    Newest(i64),
    /// Related incidents' bound: the newest `n` matches among incident
    /// entries (PostgreSQL keeps to incident entries and their partial
    /// index; SQLite's caller names the columns in the query instead).
    NewestIncidents(i64),
}

/// The matching entries and their scores (higher is better), as a
/// subquery `(id, score)`, and on PostgreSQL `source_id` too (the
/// record's own id, for the join).
pub(crate) fn matches_sql(
    binds: &mut Binds,
    query_text: String,
    part: Part,
    window: Window,
) -> String {
    let q = binds.bind(query_text);
    let newest = match window {
        Window::All => None,
        Window::Newest(n) | Window::NewestIncidents(n) => Some(binds.bind(n)),
    };
    if binds.postgres {
        // The query written out where it is used (not joined in from a
        // subquery), so the planner sees an index condition for each GIN
        // index; `debrief_search_query` is immutable (migration 16), so it
        // is computed once, when the statement is planned with its
        // parameter, not again for every row. Normalisation 1 (rank / (1 +
        // log length)): shorter texts first, as bm25 does. The newest
        // matches are found by walking the ids (`seq`) backwards when a word
        // is common, through the GIN index when it is rare: the planner
        // picks by the word's statistics.
        let tsquery = format!("debrief_search_query({q})");
        let entries = "SELECT -se.id AS id, se.source_id, se.document FROM search_entries se";
        let entries = match (window, &newest) {
            (Window::NewestIncidents(_), Some(n)) => format!(
                "({entries} WHERE se.document @@ {tsquery} AND se.kind = 'incident' \
                  ORDER BY se.id DESC LIMIT {n})"
            ),
            (_, Some(n)) => {
                format!("({entries} WHERE se.document @@ {tsquery} ORDER BY se.id DESC LIMIT {n})")
            }
            (_, None) => format!("{entries} WHERE se.document @@ {tsquery}"),
        };
        let events = "SELECT te.seq AS id, te.id AS source_id, te.search_document AS document \
             FROM timeline_events te WHERE te.search_document @@";
        let events = match &newest {
            Some(n) => format!("({events} {tsquery} ORDER BY te.seq DESC LIMIT {n})"),
            None => format!("{events} {tsquery}"),
        };
        let rows = match part {
            Part::All => format!("{entries} UNION ALL {events}"),
            Part::Entries => entries,
            Part::Events => events,
        };
        format!(
            "SELECT r.id, r.source_id, ts_rank(r.document, {tsquery}, 1)::float8 AS score \
             FROM ({rows}) r"
        )
    } else {
        // bm25 is lower for better hits; a match in a title weighs four in
        // a body, one in an incident's facts two. FTS5 gives rows in rowid
        // order, either way, so the newest entries (the most negative ids)
        // and the newest events (the highest) come first without a sort,
        // and bm25 is computed for the rows returned only.
        let select = format!(
            "SELECT rowid AS id, -bm25(search_fts, 4.0, 1.0, 2.0) AS score \
             FROM search_fts WHERE search_fts MATCH {q}"
        );
        match (&newest, part) {
            (None, Part::All) => select,
            (None, Part::Entries) => format!("{select} AND rowid < 0"),
            (None, Part::Events) => format!("{select} AND rowid > 0"),
            (Some(n), _) => {
                let entries = format!("{select} AND rowid < 0 ORDER BY rowid LIMIT {n}");
                let events = format!("{select} AND rowid > 0 ORDER BY rowid DESC LIMIT {n}");
                match part {
                    Part::All => {
                        format!("SELECT * FROM ({entries}) UNION ALL SELECT * FROM ({events})")
                    }
                    Part::Entries => entries,
                    Part::Events => events,
                }
            }
        }
    }
}

/// The query in the syntax of the connection's database.
pub(crate) fn query_text(backend: DbBackend, query: &SearchQuery) -> String {
    if backend == DbBackend::Postgres {
        query.to_tsquery()
    } else {
        query.to_fts5()
    }
}

/// The conditions on an incident (alias `i`) of the filter.
fn incident_conditions(binds: &mut Binds, filter: &SearchFilter, i: &str) -> Vec<String> {
    let mut conditions = Vec::new();
    if let Some(severity) = filter.severity {
        conditions.push(format!("{i}.severity = {}", binds.bind(severity.as_str())));
    }
    if let Some(since) = filter.since {
        conditions.push(format!("{i}.started_at >= {}", binds.bind(since)));
    }
    if let Some(until) = filter.until {
        conditions.push(format!("{i}.started_at < {}", binds.bind(until)));
    }
    conditions
}

/// The kind of a hit: an entry's own, or a timeline event's.
const KIND: &str = "coalesce(e.kind, 'timeline_event')";

/// The filter's conditions on a hit (`e`: its entry, `i`: its incident),
/// besides what searching only `part` of the index does.
fn filter_conditions(binds: &mut Binds, filter: &SearchFilter, part: Part) -> Vec<String> {
    let mut conditions = Vec::new();
    if !filter.kinds.is_empty() && part != Part::Events {
        let kinds: Vec<String> = filter
            .kinds
            .iter()
            .map(|k| binds.bind(k.as_str()))
            .collect();
        conditions.push(format!("{KIND} IN ({})", kinds.join(", ")));
    }
    let own = incident_conditions(binds, filter, "i");
    if !own.is_empty() {
        // Same values, placeholders bound again: simpler than tracking them.
        let linked = incident_conditions(binds, filter, "li");
        conditions.push(format!(
            "(({}) OR (e.kind = 'remediation_item' AND EXISTS (\
               SELECT 1 FROM remediation_incidents ri \
               JOIN incidents li ON li.id = ri.incident_id \
               WHERE ri.remediation_id = e.source_id AND {})))",
            own.join(" AND "),
            linked.join(" AND ")
        ));
    }
    conditions
}

/// The statement of one page. A broad query (one word or prefix, or
/// alternatives: [`SearchQuery::is_broad`]) with no filter ranks only the
/// newest `rank_window` matches of each part of the index (see
/// [`Window::Newest`]); any other query ranks every match: a filter so that
/// it finds old records too, and several words or a phrase because they
/// narrow the matches by themselves (on SQLite the window would cost them
/// more than it saves: bm25 counts each word's rows once per part).
fn search_sql(
    backend: DbBackend,
    query: &SearchQuery,
    filter: &SearchFilter,
    page: &PageRequest<SearchCursor>,
    rank_window: i64,
) -> Statement {
    let mut binds = Binds::new(backend);
    let postgres = binds.postgres;
    let part = Part::of(&filter.kinds);
    // Conditions first, for the window; their placeholders are numbered,
    // so the order of binding does not matter.
    let conditions = filter_conditions(&mut binds, filter, part);
    let window = if conditions.is_empty() && query.is_broad() {
        Window::Newest(rank_window)
    } else {
        Window::All
    };
    let matches = matches_sql(&mut binds, query_text(backend, query), part, window);
    let limit = binds.bind(i64::try_from(page.limit + 1).unwrap_or(i64::MAX));
    let after = page.after.map(|SearchCursor(score, id)| {
        let (score, id) = (binds.bind(score), binds.bind(id));
        format!("(mm.score < {score} OR (mm.score = {score} AND mm.id > {id}))")
    });
    // Without filters, the page is cut from the matches alone, before the
    // joins: a common word's tens of thousands of matches are ranked, but
    // only a page of them is joined to its records.
    let unfiltered = conditions.is_empty();
    let matches = format!(
        "SELECT mm.id, {source} mm.score FROM ({matches}) mm WHERE {after} {cut}",
        source = if postgres { "mm.source_id," } else { "" },
        after = after.unwrap_or_else(|| "1 = 1".into()),
        cut = if unfiltered {
            format!("ORDER BY mm.score DESC, mm.id LIMIT {limit}")
        } else {
            String::new()
        },
    );
    let sql = format!(
        "SELECT m.id, m.score, {KIND} AS kind, coalesce(e.title, '') AS title, \
           coalesce(e.body, t.body, '') AS body, coalesce(e.facts, '') AS facts, \
           i.number AS incident_number, i.title AS incident_title, \
           r.number AS remediation_number, s.version AS sitrep_version \
         FROM ({matches}) m \
         LEFT JOIN search_entries e ON m.id < 0 AND e.id = -m.id \
         LEFT JOIN timeline_events t ON m.id > 0 AND {event} \
         LEFT JOIN incidents i ON i.id = coalesce(e.incident_id, t.incident_id) \
         LEFT JOIN remediation_items r ON e.kind = 'remediation_item' AND r.id = e.source_id \
         LEFT JOIN sitreps s ON e.kind = 'sitrep' AND s.id = e.source_id \
         WHERE {where_} \
         ORDER BY m.score DESC, m.id \
         LIMIT {limit}",
        event = if postgres {
            "t.id = m.source_id"
        } else {
            "t.seq = m.id"
        },
        where_ = if unfiltered {
            "1 = 1".to_string()
        } else {
            conditions.join(" AND ")
        },
    );
    Statement::from_sql_and_values(backend, sql, binds.values)
}

/// One page of hits for the query, best first.
pub async fn search(
    ctx: &Context,
    query: &SearchQuery,
    filter: &SearchFilter,
    page: PageRequest<SearchCursor>,
) -> Result<Page<SearchHit>, ServiceError> {
    if let (Some(since), Some(until)) = (filter.since, filter.until)
        && since >= until
    {
        return Err(ServiceError::validation(
            "since,until",
            "`since` must be before `until`",
        ));
    }
    let backend = ctx.db.get_database_backend();
    let rows = ctx
        .db
        .query_all_raw(search_sql(
            backend,
            query,
            filter,
            &page,
            i64::try_from(ctx.settings.search_rank_window).unwrap_or(i64::MAX),
        ))
        .await?;
    let phrases: Vec<&Phrase> = query.positive_phrases().collect();
    let hits = rows
        .iter()
        .map(|row| hit(row, &phrases))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Page::from_rows(hits, page.limit, |(cursor, _)| *cursor).map(|(_, hit)| hit))
}

/// A row of the search statement as a hit, with its cursor.
fn hit(row: &QueryResult, phrases: &[&Phrase]) -> Result<(SearchCursor, SearchHit), ServiceError> {
    let id: i64 = row.try_get("", "id")?;
    let rank: f64 = row.try_get("", "score")?;
    let kind_name: String = row.try_get("", "kind")?;
    let kind: SearchKind = kind_name.parse().map_err(|e: String| {
        sea_orm::DbErr::Type(format!("search_entries.kind of entry {id}: {e}"))
    })?;
    let title: String = row.try_get("", "title")?;
    let body: String = row.try_get("", "body")?;
    let facts: String = row.try_get("", "facts")?;
    let incident_number: Option<i64> = row.try_get("", "incident_number")?;
    let incident_title: Option<String> = row.try_get("", "incident_title")?;
    let incident = incident_number.map(IncidentRef::display);
    let missing = || sea_orm::DbErr::Type(format!("search entry {id} has lost its record"));
    let (reference, hit_title, link) = match kind {
        SearchKind::RemediationItem => {
            let number: Option<i64> = row.try_get("", "remediation_number")?;
            let reference = RemediationRef::display(number.ok_or_else(missing)?);
            let link = format!("/api/v1/remediations/{reference}");
            (reference, title.clone(), link)
        }
        _ => {
            let reference = incident.clone().ok_or_else(missing)?;
            let incident_title = incident_title.unwrap_or_default();
            let base = format!("/api/v1/incidents/{reference}");
            match kind {
                SearchKind::Incident => (reference, incident_title, base),
                SearchKind::TimelineEvent => (
                    reference,
                    format!("Timeline · {incident_title}"),
                    format!("{base}/timeline"),
                ),
                SearchKind::Sitrep => {
                    let version: Option<i32> = row.try_get("", "sitrep_version")?;
                    let version = version.ok_or_else(missing)?;
                    (
                        reference,
                        format!("Sitrep {version} · {incident_title}"),
                        format!("{base}/sitreps/{version}"),
                    )
                }
                _ => (
                    reference,
                    format!("Post-mortem: {title} · {incident_title}"),
                    format!("{base}/postmortem"),
                ),
            }
        }
    };
    let snippet = snippet::snippet(&[&body, &facts, &title], phrases);
    let hit = SearchHit {
        kind,
        reference,
        incident: incident.filter(|_| kind != SearchKind::RemediationItem),
        title: hit_title,
        snippet,
        link,
        rank,
    };
    Ok((SearchCursor(rank, id), hit))
}
