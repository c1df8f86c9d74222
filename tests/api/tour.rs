//! The README's tour runs: `tests/tour.sh` against a fresh `debrief serve`
//! with the real clock (so on any date), and the README shows exactly the
//! script's commands.

use std::{
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use crate::helpers::fresh_database;

const BIN: &str = env!("CARGO_BIN_EXE_debrief");
const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/tour.sh");
const MARKER: &str = "# --- the tour ---\n";

/// Stops the server when the test ends, however it ends.
struct Server(std::process::Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn the_readme_tour_runs_top_to_bottom_on_a_fresh_server() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut command = Command::new(BIN);
    command
        .arg("serve")
        .env("DEBRIEF_DATA_DIR", &data)
        .env("DEBRIEF_LISTEN", format!("127.0.0.1:{port}"))
        .env_remove("DEBRIEF_DATABASE_URL")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    if let Some(url) = fresh_database().await {
        command.env("DEBRIEF_DATABASE_URL", url);
    }
    let _server = Server(command.spawn().unwrap());
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while client
        .get(format!("{base}/readyz"))
        .send()
        .await
        .map_or(true, |r| r.status() != 200)
    {
        assert!(
            Instant::now() < deadline,
            "the service did not become ready"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The script reads `data/bootstrap-token` as the README says, from the
    // directory it runs in.
    let out = Command::new("bash")
        .arg(SCRIPT)
        .current_dir(dir.path())
        .env("API", format!("{base}/api/v1"))
        .env_remove("TOKEN")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "the tour failed ({}):\n--- stdout\n{}\n--- stderr\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let printed = String::from_utf8_lossy(&out.stdout);
    assert!(printed.contains("\"ref\":\"INC-1\""), "{printed}");
    assert!(printed.contains("\"status\":\"closed\""), "{printed}");
}

#[test]
fn the_readme_shows_the_script() {
    let script = std::fs::read_to_string(SCRIPT).unwrap();
    let (_, tour) = script
        .split_once(MARKER)
        .expect("the script has the marker");
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let section = readme
        .split_once("## A tour with curl")
        .expect("the README has the tour")
        .1;
    let block = section
        .split_once("```sh\n")
        .and_then(|(_, rest)| rest.split_once("```\n"))
        .expect("the tour is a sh block")
        .0;
    assert_eq!(
        block, tour,
        "README.md's tour and tests/tour.sh differ: copy the script below its marker into the README"
    );
}
