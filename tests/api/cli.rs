//! The binary as an operator runs it.

use std::{
    io::{BufRead, BufReader},
    process::{Command, Stdio},
    time::{Duration, Instant},
};

const BIN: &str = env!("CARGO_BIN_EXE_debrief");

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test]
async fn serve_bootstraps_a_token_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let port = free_port();
    let mut child = Command::new(BIN)
        .arg("serve")
        .env("DEBRIEF_DATA_DIR", &data)
        .env("DEBRIEF_LISTEN", format!("127.0.0.1:{port}"))
        .env_remove("DEBRIEF_DATABASE_URL")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut printed = Vec::new();
    while printed.len() < 2 {
        let mut line = String::new();
        assert!(
            stdout.read_line(&mut line).unwrap() > 0,
            "serve printed {printed:?} and stopped"
        );
        printed.push(line.trim().to_string());
    }
    let token = printed[1].clone();
    assert!(token.starts_with("dbf_"), "{printed:?}");

    let file = data.join("bootstrap-token");
    assert_eq!(std::fs::read_to_string(&file).unwrap().trim(), token);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    assert!(data.join("debrief.db").exists());

    let client = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(resp) = client.get(format!("{base}/readyz")).send().await {
            assert_eq!(resp.status(), 200);
            break;
        }
        assert!(Instant::now() < deadline, "service did not become ready");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let resp = client
        .post(format!("{base}/api/v1/incidents"))
        .bearer_auth(&token)
        .json(&serde_json::json!({"title": "Smoke", "severity": "sev4"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);

    let status = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(20);
    let exit = loop {
        if let Some(exit) = child.try_wait().unwrap() {
            break exit;
        }
        assert!(Instant::now() < deadline, "serve did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(exit.success(), "serve exited with {exit:?}");

    // `token create` adds a token; its secret is the last line of stdout.
    let out = Command::new(BIN)
        .args(["token", "create", "--name", "ci", "--scope", "read"])
        .env("DEBRIEF_DATA_DIR", &data)
        .env_remove("DEBRIEF_DATABASE_URL")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let last = stdout.lines().last().unwrap();
    assert!(last.starts_with("dbf_") && last != token, "{stdout}");
}

#[test]
fn token_create_refuses_an_unknown_scope() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(BIN)
        .args(["token", "create", "--name", "x", "--scope", "root"])
        .env("DEBRIEF_DATA_DIR", dir.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("root"));
}

#[test]
fn openapi_prints_the_committed_spec() {
    let out = Command::new(BIN).arg("openapi").output().unwrap();
    assert!(out.status.success());
    let committed =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/openapi/openapi.yaml"))
            .unwrap();
    assert_eq!(String::from_utf8(out.stdout).unwrap(), committed);
}

#[tokio::test]
async fn digest_command_prints_writes_and_sends_to_the_file_outbox() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let run = |args: &[&str]| {
        Command::new(BIN)
            .args(args)
            .env("DEBRIEF_DATA_DIR", &data)
            .env(
                "DEBRIEF_DIGEST_RECIPIENTS",
                "leads@example.com, ops@example.com",
            )
            .env_remove("DEBRIEF_DATABASE_URL")
            .env_remove("DEBRIEF_MAIL__TRANSPORT")
            .output()
            .unwrap()
    };
    let printed = run(&["digest", "--week", "2026-W47"]);
    assert!(printed.status.success(), "{printed:?}");
    assert!(String::from_utf8_lossy(&printed.stdout).starts_with("# Ops Review digest 2026-W47"));

    let out = dir.path().join("out");
    let written = run(&[
        "digest",
        "--week",
        "2026-W47",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(written.status.success(), "{written:?}");
    for file in ["digest.md", "digest.html", "chart.png"] {
        assert!(out.join(file).exists(), "{file}");
    }

    let bad = run(&["digest", "--week", "2026-47"]);
    assert!(!bad.status.success());
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("ISO week"),
        "{bad:?}"
    );

    // The default transport writes one .eml per recipient under <data>/outbox.
    let sent = run(&["digest", "--week", "2026-W47", "--send"]);
    assert!(sent.status.success(), "{sent:?}");
    assert!(
        String::from_utf8_lossy(&sent.stdout).contains("2 delivered now"),
        "{sent:?}"
    );
    let mut eml: Vec<String> = std::fs::read_dir(data.join("outbox"))
        .unwrap()
        .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
        .collect();
    eml.sort();
    assert_eq!(eml.len(), 2);
    // Only this user can read the data: the directory, the database, the
    // outbox and each message.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&data), 0o700, "data directory");
        assert_eq!(mode(&data.join("outbox")), 0o700, "outbox directory");
        for entry in std::fs::read_dir(&data).unwrap() {
            let path = entry.unwrap().path();
            if path.is_file() {
                assert_eq!(mode(&path), 0o600, "{}", path.display());
            }
        }
        for entry in std::fs::read_dir(data.join("outbox")).unwrap() {
            let path = entry.unwrap().path();
            assert_eq!(mode(&path), 0o600, "{}", path.display());
        }
    }
    assert!(
        eml.iter()
            .all(|m| m.contains("Subject: Ops Review digest 2026-W47"))
    );
    // A second send needs --resend; then it is mailed (and recorded) again.
    let again = run(&["digest", "--week", "2026-W47", "--send"]);
    assert!(!again.status.success());
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("already sent"),
        "{again:?}"
    );
    let resent = run(&["digest", "--week", "2026-W47", "--send", "--resend"]);
    assert!(resent.status.success(), "{resent:?}");
    assert_eq!(std::fs::read_dir(data.join("outbox")).unwrap().count(), 4);
}

/// The binary on the database of an app spawned with `data` as its data
/// directory (SQLite there, or the app's PostgreSQL database).
fn run_on(
    data: &std::path::Path,
    database_url: Option<&debrief::config::Secret>,
    args: &[&str],
    env: &[(&str, &str)],
) -> (bool, String, String) {
    let mut command = Command::new(BIN);
    command
        .args(args)
        .env("DEBRIEF_DATA_DIR", data)
        .env_remove("DEBRIEF_MAIL__TRANSPORT")
        .env_remove("DEBRIEF_DIGEST_RECIPIENTS")
        .envs(env.iter().copied());
    match database_url {
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

// The CLI runs while the app does: a runtime with a second worker, so the
// app's background work (a token's last use) goes on while this test
// waits for the command.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_list_shows_no_secret_and_revoke_takes_a_name_or_an_id() {
    use crate::helpers::spawn_app_with;
    use serde_json::{Value, json};
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_path_buf();
    let mut database_url = None;
    let app = spawn_app_with(|s| {
        s.data_dir = data.clone();
        database_url = s.database_url.clone();
    })
    .await;
    let ci = app.token("read").await;
    let mut shared = Vec::new();
    for _ in 0..2 {
        let resp = app
            .post("/tokens", json!({"name": "shared", "scope": "write"}))
            .await;
        let body: Value = resp.json().await.unwrap();
        shared.push(body["id"].as_str().unwrap().to_string());
    }
    let used = app
        .client
        .get(app.url("/api/v1/incidents"))
        .bearer_auth(&ci)
        .send()
        .await
        .unwrap();
    assert_eq!(used.status(), 200);
    let cli = |args: &[&str]| run_on(&data, database_url.as_ref(), args, &[]);

    let (ok, listed, err) = cli(&["token", "list"]);
    assert!(ok, "{err}");
    let header = listed.lines().next().unwrap();
    for column in ["id", "name", "scope", "created", "last used", "revoked"] {
        assert!(header.contains(column), "{header}");
    }
    assert_eq!(
        listed.lines().count(),
        5,
        "a header and four tokens: {listed}"
    );
    assert!(!listed.contains("dbf_"), "no secret is shown: {listed}");
    let line = |name: &str| {
        listed
            .lines()
            .find(|l| l.split_whitespace().nth(1) == Some(name))
            .unwrap_or_else(|| panic!("{name} in {listed}"))
            .to_string()
    };
    let read_line = line("read-token");
    assert!(read_line.contains(" read "), "{read_line}");
    assert!(
        read_line.contains("2026-11-20 10:00:00 UTC") && read_line.trim_end().ends_with("no"),
        "created and used at the app's time, not revoked: {read_line}"
    );
    assert!(line("shared").contains("never"), "never used");

    let (ok, out, err) = cli(&["token", "revoke", "read-token"]);
    assert!(ok, "{err}");
    assert!(out.starts_with("Revoked token "), "{out}");
    // At once on SQLite; within a second on PostgreSQL, where a server
    // trusts a token it found live for `read_cache::TOKEN_TTL`.
    let revoked = std::time::Instant::now();
    loop {
        let refused = app
            .client
            .get(app.url("/api/v1/incidents"))
            .bearer_auth(&ci)
            .send()
            .await
            .unwrap();
        if refused.status() == 401 {
            break;
        }
        assert!(
            app.database_url.starts_with("postgres")
                && revoked.elapsed() < debrief::services::read_cache::TOKEN_TTL * 2,
            "a revoked token is refused: {}",
            refused.status()
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }

    let (ok, _, err) = cli(&["token", "revoke", "shared"]);
    assert!(!ok);
    assert!(err.contains("2 live tokens are named \"shared\""), "{err}");
    let (ok, _, err) = cli(&["token", "revoke", &shared[1]]);
    assert!(ok, "{err}");
    let (ok, _, err) = cli(&["token", "revoke", "shared"]);
    assert!(ok, "the one left of that name: {err}");
    let (ok, _, err) = cli(&["token", "revoke", "nobody"]);
    assert!(!ok);
    assert!(err.contains("not found"), "{err}");

    let (_, listed, _) = cli(&["token", "list"]);
    let revoked = listed
        .lines()
        .skip(1)
        .filter(|l| l.trim_end().ends_with("UTC"))
        .count();
    assert_eq!(revoked, 3, "{listed}");
}

// The CLI runs while the app does: a runtime with a second worker, so the
// app's background work (a token's last use) goes on while this test
// waits for the command.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn job_run_does_one_pass_of_a_job_and_never_sends_twice() {
    use crate::helpers::spawn_app_with;
    use serde_json::json;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_path_buf();
    let mut database_url = None;
    let app = spawn_app_with(|s| {
        s.data_dir = data.clone();
        database_url = s.database_url.clone();
    })
    .await;
    app.simple_incident().await;
    let resp = app
        .post(
            "/remediations",
            json!({"title": "Alert on replica lag", "kind": "detect", "priority": "p1",
                   "owner": "ana@example.com", "due_date": "2025-11-20",
                   "incidents": ["INC-1"]}),
        )
        .await;
    assert_eq!(resp.status(), 201);
    let recipients = [("DEBRIEF_DIGEST_RECIPIENTS", "leads@example.com")];
    let job = |name: &str, env: &[(&str, &str)]| {
        run_on(&data, database_url.as_ref(), &["job", "run", name], env)
    };
    let outbox = || {
        std::fs::read_dir(data.join("outbox"))
            .map(|d| d.count())
            .unwrap_or(0)
    };

    let (ok, out, err) = job("reminders", &[]);
    assert!(ok, "{err}");
    assert!(out.starts_with("Reminders for the run of "), "{out}");
    assert!(
        out.contains(": 1 queued. Outbox: 1 delivered, 0 to retry, 0 failed."),
        "{out}"
    );
    assert_eq!(outbox(), 1);
    let (ok, out, _) = job("reminders", &[]);
    assert!(ok);
    assert!(
        out.contains(": 0 queued. Outbox: nothing to deliver."),
        "the same run again reminds no one twice: {out}"
    );

    let (ok, out, _) = job("digest", &[]);
    assert!(ok);
    assert!(out.contains("no recipients are configured"), "{out}");
    let (ok, out, err) = job("digest", &recipients);
    assert!(ok, "{err}");
    assert!(
        out.contains("(send 1) queued for 1 recipient(s). Outbox: 1 delivered"),
        "{out}"
    );
    assert_eq!(outbox(), 2);
    let (ok, out, _) = job("digest", &recipients);
    assert!(ok);
    assert!(out.contains("was already sent: nothing queued"), "{out}");

    let (ok, out, _) = job("outbox", &[]);
    assert!(ok);
    assert_eq!(out.trim(), "Outbox: nothing to deliver.");
    assert_eq!(outbox(), 2);

    let (ok, _, err) = job("backup", &[]);
    assert!(!ok);
    assert!(err.contains("backup"), "{err}");
}
