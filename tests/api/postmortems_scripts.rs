//! Post-mortem PDFs show every script a user writes: Japanese, emoji, Hebrew
//! and Arabic from the record come back from the internal and public PDFs,
//! in reading order, as `pdftotext` extracts them.

use std::process::Command;

use reqwest::Method;
use serde_json::json;

use crate::helpers::{TestApp, spawn_app};

const CJK: &str = "決済システムの障害";
const EMOJI: &str = "🔥";
const HEBREW: &str = "שלום עולם";
const ARABIC: &str = "مرحبا بالعالم";

/// What `pdftotext` reads from a PDF, without the direction marks it
/// wraps right-to-left words in.
fn pdftotext(pdf: &[u8]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("document.pdf");
    std::fs::write(&path, pdf).unwrap();
    let output = Command::new("pdftotext")
        .arg(&path)
        .arg("-")
        .output()
        .expect("pdftotext runs");
    assert!(output.status.success(), "pdftotext reads the PDF");
    String::from_utf8(output.stdout)
        .expect("UTF-8")
        .chars()
        .filter(|c| !matches!(c, '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}'))
        .collect()
}

/// Why the test cannot run here, if it cannot: the fonts or pdftotext are
/// not installed (`.ci/run` installs them).
fn missing_tools() -> Option<String> {
    let text = format!("{CJK}{EMOJI}{HEBREW}{ARABIC}");
    let dirs = debrief::reports::pdf::system_font_dirs();
    let uncovered = debrief::reports::pdf::uncovered_characters(&text, &dirs);
    if !uncovered.is_empty() {
        return Some(format!(
            "no installed font covers {uncovered:?} (apt-get install fonts-noto-cjk fonts-noto-core fonts-symbola)"
        ));
    }
    if Command::new("pdftotext").arg("-v").output().is_err() {
        return Some("pdftotext is not installed (apt-get install poppler-utils)".into());
    }
    None
}

/// An incident written in four scripts: title, impact, public and internal
/// timeline events and sections.
async fn incident_in_four_scripts(app: &TestApp) {
    app.create_incident(json!({
        "title": format!("{CJK} {EMOJI}"),
        "severity": "sev2",
        "customer_impact": format!("{HEBREW} — {ARABIC}"),
        "detected_at": "2026-11-20T09:52:00Z",
        "resolved_at": "2026-11-20T10:59:00Z"
    }))
    .await;
    let resp = app
        .post(
            "/incidents/INC-1/timeline",
            json!({"events": [
                {"occurred_at": "2026-11-20T09:52:00Z", "kind": "detection", "author": "Ana Lima",
                 "body": format!("{CJK}: alert fired"), "visibility": "public", "source": "chat", "external_id": "s1"},
                {"occurred_at": "2026-11-20T10:05:00Z", "kind": "communication", "author": "Ben Okafor",
                 "body": HEBREW, "visibility": "public", "source": "chat", "external_id": "s2"},
                {"occurred_at": "2026-11-20T10:31:00Z", "kind": "mitigation", "author": "Chen Wei",
                 "body": ARABIC, "visibility": "public", "source": "chat", "external_id": "s3"}
            ]}),
        )
        .await;
    assert_eq!(resp.status(), 200);
    let resp = app
        .api(Method::PUT, "/incidents/INC-1/postmortem")
        .json(&json!({
            "sections": [
                {"key": "summary", "title": "Summary",
                 "body": format!("Internal: {CJK} {EMOJI} {HEBREW} {ARABIC}")},
                {"key": "public_summary", "title": "Summary", "visibility": "public",
                 "body": format!("{HEBREW}\n\n{ARABIC}\n\nCard payments ({CJK}) failed {EMOJI}.")}
            ]
        }))
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());
}

#[tokio::test]
async fn pdfs_show_cjk_emoji_hebrew_and_arabic_in_reading_order() {
    if let Some(reason) = missing_tools() {
        eprintln!("skipped: {reason}");
        return;
    }
    let app = spawn_app().await;
    incident_in_four_scripts(&app).await;
    for variant in ["internal", "public"] {
        let resp = app
            .get(&format!("/incidents/INC-1/postmortem/{variant}.pdf"))
            .await;
        assert_eq!(resp.status(), 200, "{variant}.pdf");
        let text = pdftotext(&resp.bytes().await.unwrap());
        for needle in [CJK, EMOJI, HEBREW, ARABIC] {
            assert!(
                text.contains(needle),
                "{variant}.pdf lacks {needle} in reading order:\n{text}"
            );
        }
        assert!(
            text.contains(&format!("Card payments ({CJK}) failed {EMOJI}.")),
            "{variant}.pdf:\n{text}"
        );
        assert!(
            !text.contains('\u{FFFD}'),
            "{variant}.pdf has placeholders:\n{text}"
        );
    }
}
