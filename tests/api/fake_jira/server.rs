//! The fake Jira's handlers and the JSON shapes it answers with (their
//! sources are listed in `mod.rs`).

use std::{
    collections::BTreeMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use chrono::{DateTime, TimeDelta, Utc};
use debrief::trackers::jira::JiraDeployment;
use poem::{
    Body, Request, Response, handler,
    http::{Method, StatusCode},
    web::Data,
};
use serde_json::{Value, json};

use super::{
    ALICE, API_TOKEN, BOB, EMAIL, Failure, FakeIssue, ISSUE_TYPES, PROJECTS, Recorded, Workflow,
};

/// (name, id, category key, category id, category name)
pub(super) const STATUSES: [(&str, &str, &str, u8, &str); 3] = [
    ("To Do", "10000", "new", 2, "To Do"),
    ("In Progress", "3", "indeterminate", 4, "In Progress"),
    ("Done", "10001", "done", 3, "Done"),
];
/// Transition id to each status, by index in `STATUSES`.
const TRANSITION_IDS: [&str; 3] = ["11", "21", "31"];
const RESOLUTIONS: [(&str, &str); 4] = [
    ("10000", "Done"),
    ("10001", "Won't Do"),
    ("10002", "Duplicate"),
    ("10003", "Cannot Reproduce"),
];

pub(super) struct State {
    pub(super) deployment: JiraDeployment,
    pub(super) base: String,
    pub(super) issues: BTreeMap<String, FakeIssue>,
    pub(super) next_id: u64,
    pub(super) counters: BTreeMap<String, u64>,
    pub(super) now: DateTime<Utc>,
    pub(super) workflow: Workflow,
    pub(super) resolution_on_screen: bool,
    /// How many of the newest issues search does not see yet.
    pub(super) search_lag: usize,
    pub(super) failure: Option<Failure>,
    /// Calls left before `failure` clears (`None`: until cleared).
    pub(super) failure_left: Option<usize>,
    pub(super) requests: Vec<Recorded>,
}

pub(super) type Shared = Arc<Mutex<State>>;

impl State {
    /// The fake's clock moves a second per change.
    pub(super) fn tick(&mut self) -> DateTime<Utc> {
        self.now += TimeDelta::seconds(1);
        self.now
    }

    fn api(&self) -> &'static str {
        match self.deployment {
            JiraDeployment::Cloud => "3",
            JiraDeployment::DataCenter => "2",
        }
    }

    fn authorized(&self, header: Option<&str>) -> bool {
        use base64::Engine as _;
        let expected = match self.deployment {
            JiraDeployment::Cloud => format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!("{EMAIL}:{API_TOKEN}"))
            ),
            JiraDeployment::DataCenter => format!("Bearer {API_TOKEN}"),
        };
        header == Some(expected.as_str())
    }

    /// The failure to answer with, counting down a limited one.
    fn take_failure(&mut self) -> Option<Failure> {
        let failure = self.failure?;
        if let Some(left) = self.failure_left.as_mut() {
            *left -= 1;
            if *left == 0 {
                self.failure = None;
                self.failure_left = None;
            }
        }
        Some(failure)
    }
}

fn time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.3f%z").to_string()
}

fn jira_error(status: StatusCode, messages: &[&str], errors: Value) -> Response {
    Response::builder()
        .status(status)
        .content_type("application/json;charset=UTF-8")
        .body(json!({ "errorMessages": messages, "errors": errors }).to_string())
}

fn json_answer(status: StatusCode, value: &Value) -> Response {
    Response::builder()
        .status(status)
        .content_type("application/json;charset=UTF-8")
        .body(value.to_string())
}

fn failure_answer(failure: Failure, now: DateTime<Utc>) -> Response {
    let reset = |seconds: u64| {
        (now + TimeDelta::seconds(seconds as i64))
            .format("%Y-%m-%dT%H:%MZ")
            .to_string()
    };
    match failure {
        Failure::Down => Response::builder()
            .status(StatusCode::SERVICE_UNAVAILABLE)
            .content_type("text/html")
            .body("<html><body>Service Unavailable</body></html>"),
        Failure::Unauthorized => jira_error(
            StatusCode::UNAUTHORIZED,
            &["Client must be authenticated to access this resource."],
            json!({}),
        ),
        Failure::Rejected(status) => jira_error(
            StatusCode::from_u16(status).expect("a status"),
            &["The request was refused by the fake."],
            json!({ "summary": "You must specify a summary of the issue." }),
        ),
        Failure::RateLimited { retry_after } => {
            let mut r = jira_error(StatusCode::TOO_MANY_REQUESTS, &["Rate limited."], json!({}));
            let h = r.headers_mut();
            h.insert("retry-after", retry_after.to_string().parse().unwrap());
            h.insert("x-ratelimit-reset", reset(retry_after).parse().unwrap());
            h.insert("ratelimit-reason", "jira-quota-based".parse().unwrap());
            r
        }
        Failure::RateLimited403 { retry_after } => {
            let mut r = jira_error(StatusCode::FORBIDDEN, &["Rate limited."], json!({}));
            let h = r.headers_mut();
            h.insert("retry-after", retry_after.to_string().parse().unwrap());
            h.insert("x-ratelimit-remaining", "0".parse().unwrap());
            r
        }
        Failure::RedirectTo { port } => Response::builder()
            .status(StatusCode::FOUND)
            .header(
                "location",
                format!("http://127.0.0.1:{port}/rest/api/3/issue/OPS-1"),
            )
            .finish(),
        Failure::Hang => unreachable!("handled before"),
    }
}

/// The issue as `GET /rest/api/{2,3}/issue/{key}` shows it.
fn issue_json(state: &State, issue: &FakeIssue, api: &str) -> Value {
    let base = &state.base;
    let (status, status_id, category, category_id, category_name) = STATUSES[issue.status];
    let resolution = issue.resolution.as_ref().map(|name| {
        let id = RESOLUTIONS
            .iter()
            .find(|r| r.1 == name)
            .map_or("1", |r| r.0);
        json!({ "self": format!("{base}/rest/api/{api}/resolution/{id}"), "id": id, "name": name })
    });
    let assignee = issue.assignee.as_ref().map(|id| match state.deployment {
        JiraDeployment::Cloud => json!({
            "self": format!("{base}/rest/api/{api}/user?accountId={id}"),
            "accountId": id, "displayName": format!("User {id}"), "active": true,
            "accountType": "atlassian",
        }),
        JiraDeployment::DataCenter => json!({
            "self": format!("{base}/rest/api/2/user?username={id}"),
            "name": id, "key": id, "displayName": format!("User {id}"), "active": true,
        }),
    });
    json!({
        "expand": "renderedFields,names,schema,operations,editmeta,changelog,versionedRepresentations",
        "id": issue.id.to_string(),
        "self": format!("{base}/rest/api/{api}/issue/{}", issue.id),
        "key": issue.key,
        "fields": {
            "summary": issue.summary,
            "issuetype": { "name": issue.issue_type, "subtask": false },
            "project": { "key": issue.project, "name": format!("Project {}", issue.project) },
            "description": issue.description,
            "labels": issue.labels,
            "duedate": issue.duedate,
            "assignee": assignee,
            "status": {
                "self": format!("{base}/rest/api/{api}/status/{status_id}"),
                "name": status, "id": status_id,
                "statusCategory": {
                    "self": format!("{base}/rest/api/{api}/statuscategory/{category_id}"),
                    "id": category_id, "key": category, "colorName": "blue-gray",
                    "name": category_name,
                },
            },
            "resolution": resolution,
            "created": time(issue.created),
            "updated": time(issue.updated),
        },
    })
}

pub(super) fn webhook_payload(
    state: &State,
    issue: &FakeIssue,
    event: &str,
    account_id: &str,
) -> Value {
    let base = &state.base;
    let mut issue_value = issue_json(state, issue, "2");
    // Webhooks carry the v2 representation: the description as text.
    issue_value["fields"]["description"] = match &issue.description {
        Value::String(s) => Value::String(s.clone()),
        other => Value::String(adf_text(other)),
    };
    let user = match state.deployment {
        JiraDeployment::Cloud => json!({
            "self": format!("{base}/rest/api/2/user?accountId={account_id}"),
            "accountId": account_id, "displayName": "Jira User", "active": true,
            "timeZone": "Europe/Paris", "accountType": "atlassian",
        }),
        JiraDeployment::DataCenter => json!({
            "self": format!("{base}/rest/api/2/user?username={account_id}"),
            "name": account_id, "key": account_id, "displayName": "Jira User", "active": true,
        }),
    };
    json!({
        "timestamp": issue.updated.timestamp_millis(),
        "webhookEvent": event,
        "issue_event_type_name": if event == "jira:issue_created" { "issue_created" } else { "issue_generic" },
        "user": user,
        "issue": issue_value,
        "changelog": { "id": "10124", "items": [] },
    })
}

/// The text of an ADF document, paragraphs on their own lines.
fn adf_text(node: &Value) -> String {
    if let Some(text) = node.get("text").and_then(Value::as_str) {
        return text.to_string();
    }
    let parts: Vec<String> = node
        .get("content")
        .and_then(Value::as_array)
        .map(|c| c.iter().map(adf_text).collect())
        .unwrap_or_default();
    let separator = if node.get("type").and_then(Value::as_str) == Some("paragraph") {
        ""
    } else {
        "\n"
    };
    parts.join(separator)
}

#[handler]
pub(super) async fn serve(request: &Request, body: Body, Data(state): Data<&Shared>) -> Response {
    let body = body.into_bytes().await.unwrap_or_default();
    let parsed: Option<Value> = serde_json::from_slice(&body).ok();
    let authorization = request
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let failure = {
        let mut s = state.lock().expect("fake Jira state");
        s.requests.push(Recorded {
            method: request.method().to_string(),
            path: request.uri().path().to_string(),
            query: request.uri().query().unwrap_or_default().to_string(),
            authorization: authorization.clone(),
            body: parsed.clone(),
        });
        s.take_failure().map(|f| (f, s.now))
    };
    match failure {
        Some((Failure::Hang, _)) => {
            tokio::time::sleep(Duration::from_secs(60)).await;
            return jira_error(StatusCode::GATEWAY_TIMEOUT, &["late"], json!({}));
        }
        Some((failure, now)) => return failure_answer(failure, now),
        None => {}
    }
    let mut s = state.lock().expect("fake Jira state");
    if !s.authorized(authorization.as_deref()) {
        return failure_answer(Failure::Unauthorized, s.now);
    }
    if !body.is_empty() && parsed.is_none() {
        return jira_error(
            StatusCode::BAD_REQUEST,
            &["Unexpected character: was expecting a JSON value"],
            json!({}),
        );
    }
    let prefix = format!("/rest/api/{}/", s.api());
    let Some(rest) = request.uri().path().strip_prefix(&prefix) else {
        return jira_error(StatusCode::NOT_FOUND, &["No such endpoint."], json!({}));
    };
    let query = request.uri().query().unwrap_or_default().to_string();
    let segments: Vec<&str> = rest.split('/').collect();
    let body = parsed.unwrap_or(Value::Null);
    match (request.method(), segments.as_slice()) {
        (&Method::POST, ["issue"]) => create_issue(&mut s, &body),
        (&Method::GET, ["issue", key]) => get_issue(&s, key, &query),
        (&Method::PUT, ["issue", key]) => edit_issue(&mut s, key, &body),
        (&Method::GET, ["issue", key, "transitions"]) => list_transitions(&s, key, &query),
        (&Method::POST, ["issue", key, "transitions"]) => do_transition(&mut s, key, &body),
        (&Method::POST, ["search", "jql"]) if s.api() == "3" => search(&s, &body),
        (&Method::POST, ["search"]) if s.api() == "2" => search(&s, &body),
        _ => jira_error(StatusCode::NOT_FOUND, &["No such endpoint."], json!({})),
    }
}

fn no_issue() -> Response {
    jira_error(
        StatusCode::NOT_FOUND,
        &["Issue does not exist or you do not have permission to see it."],
        json!({}),
    )
}

/// Checks of the fields a create or an edit sets, as Jira words them.
fn field_errors(s: &State, fields: &Value, errors: &mut serde_json::Map<String, Value>) {
    if let Some(summary) = fields.get("summary") {
        match summary.as_str() {
            Some(text) if text.contains(['\r', '\n']) => {
                errors.insert(
                    "summary".into(),
                    "The summary is invalid because it contains newline characters.".into(),
                );
            }
            Some(text) if !text.trim().is_empty() && text.chars().count() <= 255 => {}
            Some(text) if !text.trim().is_empty() => {
                errors.insert(
                    "summary".into(),
                    "Summary must be less than 255 characters.".into(),
                );
            }
            _ => {
                errors.insert(
                    "summary".into(),
                    "You must specify a summary of the issue.".into(),
                );
            }
        }
    }
    if let Some(labels) = fields.get("labels") {
        let bad = labels.as_array().into_iter().flatten().find(|l| {
            l.as_str()
                .is_none_or(|l| l.is_empty() || l.contains(char::is_whitespace))
        });
        if let Some(label) = bad {
            errors.insert(
                "labels".into(),
                format!("The label '{}' contains spaces which is invalid.", label).into(),
            );
        }
    }
    if let Some(due) = fields.get("duedate").filter(|d| !d.is_null()) {
        let ok = due
            .as_str()
            .is_some_and(|d| chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").is_ok());
        if !ok {
            errors.insert(
                "duedate".into(),
                "Error parsing date string: ".to_string().into(),
            );
        }
    }
    if let Some(assignee) = fields.get("assignee").filter(|a| !a.is_null()) {
        let id = match s.deployment {
            JiraDeployment::Cloud => assignee.get("accountId"),
            JiraDeployment::DataCenter => assignee.get("name"),
        }
        .and_then(Value::as_str);
        if !id.is_some_and(|id| [ALICE, BOB].contains(&id)) {
            errors.insert(
                "assignee".into(),
                "The user does not exist or cannot be assigned.".into(),
            );
        }
    }
    if let Some(description) = fields.get("description").filter(|d| !d.is_null()) {
        let ok = match s.deployment {
            JiraDeployment::Cloud => {
                description.get("type") == Some(&json!("doc"))
                    && description.get("version") == Some(&json!(1))
                    && description.get("content").is_some_and(Value::is_array)
            }
            JiraDeployment::DataCenter => description.is_string(),
        };
        if !ok {
            errors.insert(
                "description".into(),
                "Operation value must be an Atlassian Document (see the Atlassian Document Format)"
                    .into(),
            );
        }
    }
}

fn create_issue(s: &mut State, body: &Value) -> Response {
    let fields = &body["fields"];
    let mut errors = serde_json::Map::new();
    let project = fields["project"]["key"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    if !PROJECTS.contains(&project.as_str()) {
        errors.insert("project".into(), "valid project is required".into());
    }
    let issue_type = fields["issuetype"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    if !ISSUE_TYPES.contains(&issue_type.as_str()) {
        errors.insert("issuetype".into(), "Specify a valid issue type".into());
    }
    if fields.get("summary").is_none() {
        errors.insert(
            "summary".into(),
            "You must specify a summary of the issue.".into(),
        );
    }
    field_errors(s, fields, &mut errors);
    if !errors.is_empty() {
        return jira_error(StatusCode::BAD_REQUEST, &[], Value::Object(errors));
    }
    let now = s.tick();
    s.next_id += 1;
    let id = s.next_id;
    let number = {
        let counter = s.counters.entry(project.clone()).or_insert(0);
        *counter += 1;
        *counter
    };
    let key = format!("{project}-{number}");
    let issue = FakeIssue {
        id,
        key: key.clone(),
        project,
        issue_type,
        summary: fields["summary"].as_str().unwrap_or_default().to_string(),
        description: fields.get("description").cloned().unwrap_or(Value::Null),
        labels: fields["labels"]
            .as_array()
            .map(|l| {
                l.iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default(),
        duedate: fields["duedate"].as_str().map(str::to_string),
        assignee: user_id(s, &fields["assignee"]),
        status: 0,
        resolution: None,
        created: now,
        updated: now,
    };
    s.issues.insert(key.clone(), issue);
    let api = s.api();
    json_answer(
        StatusCode::CREATED,
        &json!({ "id": id.to_string(), "key": key, "self": format!("{}/rest/api/{api}/issue/{id}", s.base) }),
    )
}

fn user_id(s: &State, user: &Value) -> Option<String> {
    let field = match s.deployment {
        JiraDeployment::Cloud => "accountId",
        JiraDeployment::DataCenter => "name",
    };
    user.get(field).and_then(Value::as_str).map(str::to_string)
}

fn get_issue(s: &State, key: &str, query: &str) -> Response {
    let Some(issue) = s.issues.get(key) else {
        return no_issue();
    };
    let mut value = issue_json(s, issue, s.api());
    // `?fields=a,b`: only those fields, as Jira answers.
    if let Some(list) = query.split('&').find_map(|p| p.strip_prefix("fields=")) {
        let list = percent_encoding::percent_decode_str(list)
            .decode_utf8_lossy()
            .into_owned();
        let wanted: Vec<&str> = list.split(',').collect();
        if let Some(fields) = value["fields"].as_object_mut() {
            fields.retain(|name, _| wanted.contains(&name.as_str()));
        }
    }
    json_answer(StatusCode::OK, &value)
}

fn edit_issue(s: &mut State, key: &str, body: &Value) -> Response {
    if !s.issues.contains_key(key) {
        return no_issue();
    }
    let fields = &body["fields"];
    let mut errors = serde_json::Map::new();
    field_errors(s, fields, &mut errors);
    if !errors.is_empty() {
        return jira_error(StatusCode::BAD_REQUEST, &[], Value::Object(errors));
    }
    let assignee = fields.get("assignee").map(|a| user_id(s, a));
    let now = s.tick();
    let issue = s.issues.get_mut(key).expect("checked above");
    if let Some(summary) = fields["summary"].as_str() {
        issue.summary = summary.to_string();
    }
    if let Some(due) = fields.get("duedate") {
        issue.duedate = due.as_str().map(str::to_string);
    }
    if let Some(assignee) = assignee {
        issue.assignee = assignee;
    }
    issue.updated = now;
    Response::builder().status(StatusCode::NO_CONTENT).finish()
}

/// The transitions available from `status` (indexes into `STATUSES`).
fn available(s: &State, status: usize) -> Vec<usize> {
    match s.workflow {
        Workflow::AnyToAny => (0..STATUSES.len()).filter(|&i| i != status).collect(),
        Workflow::Linear => match status {
            0 => vec![1],
            1 => vec![0, 2],
            _ => vec![0],
        },
    }
}

fn list_transitions(s: &State, key: &str, query: &str) -> Response {
    let Some(issue) = s.issues.get(key) else {
        return no_issue();
    };
    let expand_fields = query.contains("expand=transitions.fields");
    let api = s.api();
    let list: Vec<Value> = available(s, issue.status)
        .into_iter()
        .map(|i| {
            let (name, id, category, category_id, category_name) = STATUSES[i];
            let mut t = json!({
                "id": TRANSITION_IDS[i], "name": name, "hasScreen": i == 2 && s.resolution_on_screen,
                "isGlobal": s.workflow == Workflow::AnyToAny, "isInitial": false,
                "isAvailable": true, "isConditional": false, "isLooped": false,
                "to": {
                    "self": format!("{}/rest/api/{api}/status/{id}", s.base),
                    "name": name, "id": id,
                    "statusCategory": { "id": category_id, "key": category, "name": category_name },
                },
            });
            if expand_fields {
                t["fields"] = if i == 2 && s.resolution_on_screen {
                    json!({ "resolution": {
                        "required": true,
                        "schema": { "type": "resolution", "system": "resolution" },
                        "name": "Resolution", "key": "resolution", "operations": ["set"],
                        "allowedValues": RESOLUTIONS.iter().map(|(id, name)| json!({
                            "self": format!("{}/rest/api/{api}/resolution/{id}", s.base),
                            "id": id, "name": name,
                        })).collect::<Vec<_>>(),
                    }})
                } else {
                    json!({})
                };
            }
            t
        })
        .collect();
    json_answer(
        StatusCode::OK,
        &json!({ "expand": "transitions", "transitions": list }),
    )
}

fn do_transition(s: &mut State, key: &str, body: &Value) -> Response {
    let Some(issue) = s.issues.get(key) else {
        return no_issue();
    };
    let id = body["transition"]["id"].as_str().unwrap_or_default();
    let target = TRANSITION_IDS.iter().position(|t| *t == id);
    let Some(target) = target.filter(|t| available(s, issue.status).contains(t)) else {
        return jira_error(
            StatusCode::BAD_REQUEST,
            &[&format!(
                "Transition id '{id}' is not valid for this issue."
            )],
            json!({}),
        );
    };
    let resolution = body["fields"]["resolution"]["name"]
        .as_str()
        .map(str::to_string);
    if resolution.is_some() && !(target == 2 && s.resolution_on_screen) {
        return jira_error(
            StatusCode::BAD_REQUEST,
            &[],
            json!({ "resolution": "Field 'resolution' cannot be set. It is not on the appropriate screen, or unknown." }),
        );
    }
    if let Some(name) = &resolution
        && !RESOLUTIONS.iter().any(|r| r.1 == name)
    {
        return jira_error(
            StatusCode::BAD_REQUEST,
            &[],
            json!({ "resolution": "Could not find valid 'id' or 'name' in resolution object." }),
        );
    }
    let now = s.tick();
    let issue = s.issues.get_mut(key).expect("checked above");
    issue.status = target;
    // Done sets a resolution (the screen's, else the post-function's
    // "Done"); leaving Done clears it.
    issue.resolution = (target == 2).then(|| resolution.unwrap_or_else(|| "Done".into()));
    issue.updated = now;
    Response::builder().status(StatusCode::NO_CONTENT).finish()
}

/// Only the JQL Debrief writes: `project = "X" AND labels = "Y" ORDER BY created ASC`.
fn search(s: &State, body: &Value) -> Response {
    let jql = body["jql"].as_str().unwrap_or_default();
    let pattern = regex::Regex::new(
        r#"^project = "([^"\\]*)" AND labels = "([^"\\]*)" ORDER BY created ASC$"#,
    )
    .expect("pattern");
    let Some(found) = pattern.captures(jql) else {
        return jira_error(
            StatusCode::BAD_REQUEST,
            &[&format!(
                "Error in the JQL Query: the fake does not read {jql:?}"
            )],
            json!({}),
        );
    };
    let (project, label) = (&found[1], &found[2]);
    let max = body["maxResults"].as_u64().unwrap_or(50) as usize;
    let mut matching: Vec<&FakeIssue> = s
        .issues
        .values()
        .filter(|i| i.project == project && i.labels.iter().any(|l| l == label))
        .collect();
    matching.sort_by_key(|i| (i.created, i.id));
    let newest_visible = (s.next_id - 10_000).saturating_sub(s.search_lag as u64) + 10_000;
    matching.retain(|i| i.id <= newest_visible);
    let total = matching.len();
    let api = s.api();
    let issues: Vec<Value> = matching
        .into_iter()
        .take(max)
        .map(|i| {
            let mut v = issue_json(s, i, api);
            if let (Some(fields), Some(wanted)) =
                (v["fields"].as_object_mut(), body["fields"].as_array())
            {
                fields.retain(|name, _| wanted.iter().any(|w| w == name));
            }
            v
        })
        .collect();
    let answer = match s.deployment {
        JiraDeployment::Cloud => json!({ "issues": issues, "isLast": total <= max }),
        JiraDeployment::DataCenter => {
            json!({ "startAt": 0, "maxResults": max, "total": total, "issues": issues })
        }
    };
    json_answer(StatusCode::OK, &answer)
}
