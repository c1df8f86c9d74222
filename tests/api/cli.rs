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
