//! `GET /search`: ranking, phrases, prefixes, filters, pagination,
//! snippets, bad queries, and the index kept by every write (API, import,
//! migration of existing rows).

use reqwest::Method;
use sea_orm::ConnectionTrait;
use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_problem, spawn_app};

async fn search(app: &TestApp, query: &str) -> Value {
    let resp = app.get(&format!("/search?{query}")).await;
    let status = resp.status();
    let body: Value = resp.json().await.unwrap();
    assert_eq!(status, 200, "search {query}: {body}");
    body
}

/// `(type, reference)` of each hit, in order.
async fn hits(app: &TestApp, query: &str) -> Vec<(String, String)> {
    search(app, query).await["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            (
                h["type"].as_str().unwrap().to_string(),
                h["reference"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn q(text: &str) -> String {
    format!(
        "q={}",
        percent_encoding::utf8_percent_encode(text, percent_encoding::NON_ALPHANUMERIC)
    )
}

async fn event(app: &TestApp, reference: &str, body: &str) {
    let resp = app
        .post(
            &format!("/incidents/{reference}/timeline"),
            json!({"occurred_at": "2026-11-20T09:30:00Z", "kind": "note", "body": body}),
        )
        .await;
    assert!(resp.status().is_success(), "{}", resp.text().await.unwrap());
}

/// INC-1 (sev1, started 11-10): "Database failover" in its title.
/// INC-2 (sev3, started 11-18): database only in its impact, an event
/// about the connection pool, a remediation item REM-1.
async fn seed(app: &TestApp) {
    app.create_incident(json!({
        "title": "Database failover broke checkout", "severity": "sev1",
        "started_at": "2026-11-10T08:00:00Z",
        "affected_components": ["payments-api"], "labels": ["postgres"]
    }))
    .await;
    app.create_incident(json!({
        "title": "Slow search pages", "severity": "sev3",
        "started_at": "2026-11-18T08:00:00Z",
        "customer_impact": "Pages waited on the database for seconds"
    }))
    .await;
    event(app, "INC-2", "Connection pool exhausted on the primary").await;
    event(app, "INC-2", "The pool of connection slots grew").await;
    let resp = app
        .post(
            "/remediations",
            json!({"title": "Alert on pool exhaustion", "kind": "detect",
                   "priority": "p2", "incidents": ["INC-2"],
                   "description": "Page when <connections> run out"}),
        )
        .await;
    assert_eq!(resp.status(), 201);
}

#[tokio::test]
async fn hits_are_ranked_with_references_links_and_marked_snippets() {
    let app = spawn_app().await;
    seed(&app).await;
    let body = search(&app, &q("database")).await;
    let items = body["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "{body}");
    // A title match outranks a match in the impact.
    assert_eq!(items[0]["type"], "incident");
    assert_eq!(items[0]["reference"], "INC-1");
    assert_eq!(items[0]["title"], "Database failover broke checkout");
    assert_eq!(items[0]["link"], "/api/v1/incidents/INC-1");
    assert_eq!(
        items[0]["snippet"],
        "<mark>Database</mark> failover broke checkout"
    );
    assert_eq!(items[1]["reference"], "INC-2");
    assert_eq!(
        items[1]["snippet"],
        "Pages waited on the <mark>database</mark> for seconds"
    );
    assert!(items[0]["rank"].as_f64().unwrap() > items[1]["rank"].as_f64().unwrap());
    assert_eq!(body["next_cursor"], Value::Null);

    // Every kind links to its record; the rest of the text is escaped.
    let body = search(&app, &q("connections")).await;
    let item = &body["items"][0];
    assert_eq!(item["type"], "remediation_item");
    assert_eq!(item["reference"], "REM-1");
    assert_eq!(item["incident"], Value::Null);
    assert_eq!(item["link"], "/api/v1/remediations/REM-1");
    assert_eq!(
        item["snippet"],
        "Page when &lt;<mark>connections</mark>&gt; run out"
    );
    let body = search(&app, &q("primary")).await;
    let item = &body["items"][0];
    assert_eq!(item["type"], "timeline_event");
    assert_eq!(item["reference"], "INC-2");
    assert_eq!(item["incident"], "INC-2");
    assert_eq!(item["link"], "/api/v1/incidents/INC-2/timeline");
    assert_eq!(item["title"], "Timeline · Slow search pages");
}

#[tokio::test]
async fn phrases_prefixes_or_and_exclusions() {
    let app = spawn_app().await;
    seed(&app).await;
    let events =
        |v: Vec<(String, String)>| v.into_iter().filter(|(t, _)| t == "timeline_event").count();
    // Both events hold both words; only one holds the phrase.
    assert_eq!(events(hits(&app, &q("connection pool")).await), 2);
    let phrase = search(&app, &q("\"connection pool\"")).await;
    assert_eq!(phrase["items"].as_array().unwrap().len(), 1, "{phrase}");
    assert_eq!(
        phrase["items"][0]["snippet"],
        "<mark>Connection</mark> <mark>pool</mark> exhausted on the primary"
    );
    // A prefix finds "exhausted" and "exhaustion".
    let prefix = hits(&app, &q("exhaust*")).await;
    assert_eq!(prefix.len(), 2, "{prefix:?}");
    assert!(prefix.contains(&("remediation_item".into(), "REM-1".into())));
    // Accents and case do not matter.
    assert_eq!(hits(&app, &q("DATABASÉ")).await.len(), 2);
    // OR widens, a minus narrows.
    assert_eq!(hits(&app, &q("failover OR slots")).await.len(), 2);
    assert_eq!(
        hits(&app, &q("database -failover")).await,
        [("incident".to_string(), "INC-2".to_string())]
    );
    // Punctuation in a word is a phrase of its parts, as indexed.
    assert_eq!(
        hits(&app, &q("payments-api")).await,
        [("incident".to_string(), "INC-1".to_string())]
    );
    assert!(hits(&app, &q("nothing-like-this")).await.is_empty());
}

#[tokio::test]
async fn filters_by_type_severity_and_start() {
    let app = spawn_app().await;
    seed(&app).await;
    let all = hits(
        &app,
        &format!("{}&limit=50", q("pool OR database OR failover")),
    )
    .await;
    assert_eq!(all.len(), 5, "{all:?}");
    let only = hits(
        &app,
        &format!("{}&types=timeline_event,remediation_item", q("pool")),
    )
    .await;
    assert_eq!(only.len(), 3, "{only:?}");
    assert!(only.iter().all(|(t, _)| t != "incident"));
    let sev1 = hits(&app, &format!("{}&severity=sev1", q("pool OR database"))).await;
    assert_eq!(sev1, [("incident".to_string(), "INC-1".to_string())]);
    // A remediation item follows the severity and start of its incidents.
    let sev3 = hits(
        &app,
        &format!("{}&severity=sev3&types=remediation_item", q("pool")),
    )
    .await;
    assert_eq!(
        sev3,
        [("remediation_item".to_string(), "REM-1".to_string())]
    );
    let since = hits(&app, &format!("{}&since=2026-11-15", q("pool OR database"))).await;
    assert!(since.iter().all(|(_, r)| r != "INC-1"), "{since:?}");
    assert_eq!(since.len(), 4, "{since:?}");
    let until = hits(&app, &format!("{}&until=2026-11-15", q("pool OR database"))).await;
    assert_eq!(until, [("incident".to_string(), "INC-1".to_string())]);
    let resp = app
        .get(&format!(
            "/search?{}&since=2026-11-20&until=2026-11-19",
            q("pool")
        ))
        .await;
    assert_problem(resp, 422, Some("since,until")).await;
}

/// Every page from `first` on: how many pages, and the snippets in order.
async fn all_pages(app: &TestApp, first: &str) -> (usize, Vec<String>) {
    let mut seen = Vec::new();
    let mut path = first.to_string();
    let mut pages = 0;
    loop {
        let body = search(app, &path).await;
        pages += 1;
        for item in body["items"].as_array().unwrap() {
            seen.push(item["snippet"].as_str().unwrap().to_string());
        }
        match body["next_cursor"].as_str() {
            Some(cursor) => path = format!("{first}&cursor={cursor}"),
            None => return (pages, seen),
        }
    }
}

#[tokio::test]
async fn pages_follow_the_cursor_without_repeats() {
    let app = spawn_app().await;
    app.simple_incident().await;
    for i in 0..7 {
        let body = format!("Retry {} storm {}", "again ".repeat(i), i);
        event(&app, "INC-1", &body).await;
    }
    // Unfiltered pages are cut before the joins, filtered ones after:
    // both follow the cursor alike.
    for filter in ["", "&types=timeline_event&severity=sev2"] {
        let first = format!("{}&limit=3{filter}", q("retry"));
        let (pages, seen) = all_pages(&app, &first).await;
        assert_eq!(pages, 3, "{filter}");
        assert_eq!(seen.len(), 7, "{filter}");
        let mut unique = seen.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), 7, "{seen:?}");
        // Shorter events rank higher (bm25 and ts_rank agree on that much).
        assert!(
            seen[0].starts_with("<mark>Retry</mark> storm 0"),
            "{seen:?}"
        );
    }
    let resp = app
        .get(&format!("/search?{}&cursor=nonsense", q("retry")))
        .await;
    assert_problem(resp, 422, Some("cursor")).await;
}

/// With no filter, a search for one word ranks the newest
/// `search_rank_window` events (and as many other records) matching; a
/// filter ranks every match, so that it reaches old records too, and so do
/// several words or a phrase.
#[tokio::test]
async fn a_search_without_filters_ranks_its_newest_matches() {
    let app = crate::helpers::spawn_app_with(|s| s.search_rank_window = 3).await;
    app.create_incident(json!({"title": "Storm of retries", "severity": "sev2"}))
        .await;
    app.create_incident(json!({"title": "Storm of pages", "severity": "sev2"}))
        .await;
    // Oldest first, shortest first: ranking every match would put the
    // oldest events on top.
    for i in 0..6 {
        let body = format!("Storm {} number {i}", "again ".repeat(i));
        event(&app, "INC-1", &body).await;
    }
    let snippets = |body: Value| -> Vec<String> {
        body["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|h| h["type"] == "timeline_event")
            .map(|h| {
                h["snippet"]
                    .as_str()
                    .unwrap()
                    .replace("<mark>", "")
                    .replace("</mark>", "")
            })
            .collect()
    };
    let newest = snippets(search(&app, &format!("{}&limit=50", q("storm"))).await);
    assert_eq!(
        newest,
        [
            "Storm again again again number 3",
            "Storm again again again again number 4",
            "Storm again again again again again number 5",
        ],
        "the three newest events, ranked among themselves"
    );
    let (pages, all) = all_pages(&app, &format!("{}&limit=2", q("storm"))).await;
    assert_eq!(
        (pages, all.len()),
        (3, 5),
        "three events and both incidents: {all:?}"
    );
    let every = snippets(search(&app, &format!("{}&limit=50&severity=sev2", q("storm"))).await);
    assert_eq!(every.len(), 6, "a filter ranks every match: {every:?}");
    assert_eq!(every[0], "Storm number 0", "{every:?}");
    // Two words narrow the matches by themselves: every match is ranked.
    for narrow in ["storm number", "\"storm again\""] {
        let every = snippets(search(&app, &format!("{}&limit=50", q(narrow))).await);
        let expected = if narrow.contains("again") { 5 } else { 6 };
        assert_eq!(every.len(), expected, "{narrow}: {every:?}");
    }
    let two_words = snippets(search(&app, &format!("{}&limit=50", q("storm number"))).await);
    assert_eq!(two_words[0], "Storm number 0", "{two_words:?}");
}

#[tokio::test]
async fn bad_queries_are_422_naming_q_and_the_problem() {
    let app = spawn_app().await;
    app.simple_incident().await;
    let long = "word ".repeat(101);
    let many = (0..17)
        .map(|i| format!("w{i}"))
        .collect::<Vec<_>>()
        .join(" ");
    let cases = [
        ("", "empty", "no words at all"),
        (
            "\"checkout errors",
            "unbalanced quote",
            "a phrase never closed",
        ),
        (long.as_str(), "too long", "over 500 characters"),
        (many.as_str(), "too many terms", "17 words"),
        (
            "OR checkout",
            "`OR` must stand between",
            "OR with nothing before it",
        ),
        ("-checkout", "not excluded", "only an exclusion"),
        ("c*", "prefix", "a one-letter prefix"),
        ("\" \"", "no words", "an empty phrase"),
    ];
    for (query, expected, why) in cases {
        let resp = app.get(&format!("/search?{}", q(query))).await;
        let body = assert_problem(resp, 422, Some("q")).await;
        let detail = body["detail"].as_str().unwrap();
        assert!(detail.contains(expected), "{why}: {detail}");
    }
    let resp = app.get("/search").await;
    assert_problem(resp, 422, Some("q")).await;
    let resp = app
        .get(&format!("/search?{}&types=incident,bogus", q("x")))
        .await;
    assert_problem(resp, 422, Some("types")).await;
    let resp = app.get(&format!("/search?{}&limit=0", q("x"))).await;
    assert_problem(resp, 422, Some("limit")).await;
    // Syntax of either database passed as text is only words.
    for query in [
        "NEAR(a b)",
        "a:*",
        "title:checkout",
        "!!x & y |",
        "'\\\"",
        "² x½ ⅓*",
        "数据库 \"ǅ ß\"",
        "ℌ🙂 ١٢٣",
    ] {
        let resp = app.get(&format!("/search?{}", q(query))).await;
        assert!(
            resp.status() == 200 || resp.status() == 422,
            "{query}: {}",
            resp.status()
        );
    }
    let read = app.token("read").await;
    let resp = app
        .client
        .get(app.url(&format!("/api/v1/search?{}", q("checkout"))))
        .bearer_auth(read)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200, "a read token may search");
}

#[tokio::test]
async fn the_index_follows_updates_sections_and_removals() {
    let app = spawn_app().await;
    app.simple_incident().await;
    let resp = app
        .api(Method::PATCH, "/incidents/INC-1")
        .json(&json!({"title": "Kafka lag", "labels": ["streaming"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());
    assert!(hits(&app, &q("checkout")).await.is_empty());
    assert_eq!(hits(&app, &q("kafka streaming")).await.len(), 1);

    let put = |body: &'static str| {
        app.api(Method::PUT, "/incidents/INC-1/postmortem")
            .json(&json!({"sections": [
                {"key": "root_cause", "title": "Root cause", "body": body}
            ]}))
            .send()
    };
    assert_eq!(
        put("A zookeeper quorum was lost").await.unwrap().status(),
        200
    );
    let found = search(&app, &q("zookeeper")).await;
    assert_eq!(found["items"][0]["type"], "postmortem_section");
    assert_eq!(
        found["items"][0]["title"],
        "Post-mortem: Root cause · Kafka lag"
    );
    assert_eq!(
        found["items"][0]["link"],
        "/api/v1/incidents/INC-1/postmortem"
    );
    assert_eq!(put("Broker disks filled up").await.unwrap().status(), 200);
    assert!(hits(&app, &q("zookeeper")).await.is_empty());
    assert_eq!(hits(&app, &q("broker")).await.len(), 1);
    // Unwritten sections (empty bodies) are not hits for their titles.
    assert!(hits(&app, &q("\"what went well\"")).await.is_empty());

    let resp = app
        .post(
            "/remediations",
            json!({"title": "Alert on consumer lag", "kind": "detect", "priority": "p1",
                   "incidents": ["INC-1"]}),
        )
        .await;
    assert_eq!(resp.status(), 201);
    let resp = app
        .patch(
            "/remediations/REM-1",
            json!({"title": "Autoscale consumers"}),
        )
        .await;
    assert_eq!(resp.status(), 200);
    assert!(hits(&app, &q("alert")).await.is_empty());
    assert_eq!(
        hits(&app, &q("autoscale")).await,
        [("remediation_item".to_string(), "REM-1".to_string())]
    );
}

/// An event is found as itself after rows before it are deleted and the
/// database is vacuumed, and a deleted event is found no more: the index
/// names an event by its `seq` (on SQLite the table's INTEGER PRIMARY KEY,
/// which `VACUUM` keeps, where it may renumber an implicit rowid).
#[tokio::test]
async fn events_are_found_as_themselves_after_deletions_and_vacuum() {
    let app = spawn_app().await;
    app.simple_incident().await;
    for body in [
        "Alpha shard paused",
        "Bravo shard paused",
        "Charlie shard resumed",
    ] {
        event(&app, "INC-1", body).await;
    }
    let db = &app.context.db;
    db.execute_unprepared(
        "DELETE FROM timeline_events WHERE body LIKE 'Alpha%' OR body LIKE 'Bravo%'",
    )
    .await
    .unwrap();
    db.execute_unprepared("VACUUM").await.unwrap();
    event(&app, "INC-1", "Delta shard rebalanced").await;

    assert!(hits(&app, &q("alpha OR bravo")).await.is_empty());
    let found = search(&app, &q("charlie")).await;
    assert_eq!(found["items"].as_array().unwrap().len(), 1, "{found}");
    assert_eq!(found["items"][0]["type"], "timeline_event");
    assert_eq!(found["items"][0]["reference"], "INC-1");
    assert_eq!(
        found["items"][0]["snippet"],
        "<mark>Charlie</mark> shard resumed"
    );
    let found = search(&app, &q("shard")).await;
    let snippets: Vec<&str> = found["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["snippet"].as_str().unwrap())
        .collect();
    assert_eq!(snippets.len(), 2, "{found}");
    assert!(
        snippets.contains(&"Charlie <mark>shard</mark> resumed"),
        "{found}"
    );
    assert!(
        snippets.contains(&"Delta <mark>shard</mark> rebalanced"),
        "{found}"
    );
}

#[tokio::test]
async fn imported_records_are_searchable() {
    let app = spawn_app().await;
    let fixture = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/statuspage/cloudflare-2019-07-02-waf-regex-cpu-exhaustion.json"
    ))
    .unwrap();
    let resp = app
        .api(Method::POST, "/imports/statuspage")
        .header("content-type", "application/json")
        .body(fixture)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());
    let found = hits(
        &app,
        &format!("{}&limit=100", q("cloudflare OR waf OR regex")),
    )
    .await;
    assert!(
        found.iter().any(|(t, r)| t == "incident" && r == "INC-1"),
        "{found:?}"
    );
}

#[tokio::test]
async fn the_migration_indexes_rows_that_existed_before_it() {
    Box::pin(crate::search_fill::migration_fills_the_index()).await;
}

/// `debrief search` on the app's database (SQLite in its data directory,
/// or its PostgreSQL database).
fn cli(
    app_data: &std::path::Path,
    url: Option<&debrief::config::Secret>,
    args: &[&str],
) -> (bool, String, String) {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_debrief"));
    command
        .arg("search")
        .args(args)
        .env("DEBRIEF_DATA_DIR", app_data);
    match url {
        Some(url) => command.env("DEBRIEF_DATABASE_URL", url.expose()),
        None => command.env_remove("DEBRIEF_DATABASE_URL"),
    };
    let out = command.output().unwrap();
    (
        out.status.success(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_prints_hits_and_refuses_bad_queries() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_path_buf();
    let mut url = None;
    let app = crate::helpers::spawn_app_with(|s| {
        s.data_dir = data.clone();
        url = s.database_url.clone();
    })
    .await;
    seed(&app).await;
    let (ok, out, err) = cli(
        &data,
        url.as_ref(),
        &["\"connection pool\" OR exhaust*", "--limit", "5"],
    );
    assert!(ok, "{err}");
    assert!(out.contains("INC-2    timeline_event"), "{out}");
    assert!(
        out.contains("**Connection** **pool** **exhausted** on the primary"),
        "{out}"
    );
    assert!(out.contains("REM-1    remediation_item"), "{out}");
    assert!(out.contains("    Alert on pool **exhaustion**"), "{out}");
    let (ok, out, _) = cli(
        &data,
        url.as_ref(),
        &["database", "--types", "remediation_item"],
    );
    assert!(ok);
    assert_eq!(out.trim(), "No hits.");
    let (ok, _, err) = cli(&data, url.as_ref(), &["\"open"]);
    assert!(!ok);
    assert!(err.contains("unbalanced quote"), "{err}");
    let (ok, _, err) = cli(&data, url.as_ref(), &["x", "--types", "bogus"]);
    assert!(!ok);
    assert!(err.contains("bogus"), "{err}");
}

/// PostgreSQL: the search's `tsquery` function stays immutable (folded to
/// a constant when a statement is planned with its parameter) and priced
/// high enough that no prepared statement switches to a generic plan,
/// where it would be computed for every row (migration 16).
#[tokio::test]
async fn the_postgres_query_function_is_folded_and_keeps_custom_plans() {
    let app = spawn_app().await;
    let db = &app.context.db;
    if db.get_database_backend() != sea_orm::DbBackend::Postgres {
        return;
    }
    let row = db
        .query_one_raw(sea_orm::Statement::from_string(
            sea_orm::DbBackend::Postgres,
            "SELECT provolatile::text AS volatility, procost::float8 AS cost \
             FROM pg_proc WHERE proname = 'debrief_search_query'",
        ))
        .await
        .unwrap()
        .expect("migration 16 creates debrief_search_query");
    let volatility: String = row.try_get("", "volatility").unwrap();
    let cost: f64 = row.try_get("", "cost").unwrap();
    assert_eq!(volatility, "i", "immutable");
    assert!(cost >= 10_000.0, "cost {cost}");
    // Ten executions of one prepared statement with different queries, on
    // one connection (a transaction): the plans stay made for each value
    // (`pg_prepared_statements` counts them).
    let txn = sea_orm::TransactionTrait::begin(db).await.unwrap();
    txn.execute_unprepared(
        "PREPARE probe(text) AS SELECT count(*) FROM search_entries se \
         WHERE se.document @@ debrief_search_query($1)",
    )
    .await
    .unwrap();
    for word in ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j"] {
        txn.execute_unprepared(&format!("EXECUTE probe('''{word}''')"))
            .await
            .unwrap();
    }
    let plans = txn
        .query_one_raw(sea_orm::Statement::from_string(
            sea_orm::DbBackend::Postgres,
            "SELECT generic_plans, custom_plans FROM pg_prepared_statements \
             WHERE name = 'probe'",
        ))
        .await
        .unwrap()
        .expect("the statement prepared on this connection");
    let generic: i64 = plans.try_get("", "generic_plans").unwrap();
    let custom: i64 = plans.try_get("", "custom_plans").unwrap();
    assert_eq!((generic, custom), (0, 10), "every plan made for its value");
    txn.execute_unprepared("DEALLOCATE probe").await.unwrap();
    txn.rollback().await.unwrap();
}

/// SQLite: segments in the FTS5 index, from its structure record (the
/// row with id 10 of `search_fts_data`: a cookie, an optional version
/// marker, then the numbers of levels and of segments as varints).
async fn index_segments(db: &sea_orm::DatabaseConnection) -> u64 {
    let row = db
        .query_one_raw(sea_orm::Statement::from_string(
            sea_orm::DbBackend::Sqlite,
            "SELECT block FROM search_fts_data WHERE id = 10",
        ))
        .await
        .unwrap()
        .expect("the index has a structure record");
    let block: Vec<u8> = row.try_get_by_index(0).unwrap();
    let mut at = if block.get(4..8) == Some(&[0xFF, 0x00, 0x00, 0x01][..]) {
        8
    } else {
        4
    };
    let mut varint = || {
        let mut value = 0_u64;
        loop {
            let byte = block[at];
            at += 1;
            value = (value << 7) | u64::from(byte & 0x7F);
            if byte & 0x80 == 0 {
                return value;
            }
        }
    };
    let _levels = varint();
    varint()
}

/// SQLite: the index's segments are merged once the writes pause, not in
/// every write (migration 18). Each batch below is a commit of its own and
/// adds a segment; left unmerged, 24 of them would stay (a write merges a
/// level itself only at 32). Every event stays found.
#[tokio::test]
async fn the_index_is_merged_once_the_writes_pause() {
    let app = spawn_app().await;
    let db = &app.context.db;
    if db.get_database_backend() != sea_orm::DbBackend::Sqlite {
        return;
    }
    app.simple_incident().await;
    for batch in 0..24 {
        let events: Vec<Value> = (0..20)
            .map(|i| {
                json!({"occurred_at": "2026-11-20T09:30:00Z", "kind": "note",
                       "body": format!("Merged shard {batch}-{i} drained"),
                       "external_id": format!("m-{batch}-{i}")})
            })
            .collect();
        let resp = app
            .post("/incidents/INC-1/timeline", json!({ "events": events }))
            .await;
        assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());
    }
    let mut segments = index_segments(db).await;
    for _ in 0..100 {
        if segments < 16 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        segments = index_segments(db).await;
    }
    assert!(
        segments < 16,
        "{segments} segments: nothing was merged in the pause"
    );
    let found = db
        .query_one_raw(sea_orm::Statement::from_string(
            sea_orm::DbBackend::Sqlite,
            "SELECT count(*) FROM search_fts WHERE search_fts MATCH 'merged AND drained'",
        ))
        .await
        .unwrap()
        .unwrap()
        .try_get_by_index::<i64>(0)
        .unwrap();
    assert_eq!(found, 24 * 20);
}
