//! Sitrep distribution to incident channels and overdue-remediation
//! reminders, through the same outbox as the digest.

use chrono::{Duration, TimeZone, Utc};
use serde_json::{Value, json};

use crate::{
    digest_support::webhook_sink,
    helpers::{assert_problem, spawn_app, spawn_app_with},
};

#[tokio::test]
async fn each_sitrep_version_goes_to_the_incidents_channels_with_retries() {
    let app = spawn_app().await;
    let incident = app.simple_incident().await;
    let reference = incident["ref"].as_str().unwrap();
    // The webhook fails once, then accepts.
    let (hook, bodies) = webhook_sink(1).await;
    for (kind, target) in [
        ("email", "war-room@example.com"),
        ("webhook", hook.as_str()),
    ] {
        let resp = app
            .post(
                &format!("/incidents/{reference}/channels"),
                json!({"kind": kind, "target": target}),
            )
            .await;
        assert_eq!(resp.status(), 201, "{kind}");
    }
    let channels: Value = app
        .get(&format!("/incidents/{reference}/channels"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(channels["items"].as_array().unwrap().len(), 2);

    let resp = app
        .post(
            &format!("/incidents/{reference}/sitreps"),
            json!({"summary": "Checkout errors since deploy 4312; rolling back.", "author": "Ana",
                   "current_actions": ["Rolling back web tier"]}),
        )
        .await;
    assert_eq!(resp.status(), 201);
    let sitrep: Value = resp.json().await.unwrap();
    let deliveries = sitrep["deliveries"].as_array().unwrap();
    assert_eq!(deliveries.len(), 2, "{sitrep}");
    assert!(deliveries.iter().all(|d| d["status"] == "pending"));

    let report = app.jobs.drain_outbox().await.unwrap();
    assert_eq!((report.sent, report.retrying), (1, 1), "{report:?}");
    let mails = app.jobs.mailer().mailbox().unwrap().messages();
    assert_eq!(mails.len(), 1);
    assert_eq!(mails[0].to, ["war-room@example.com"]);
    assert!(
        mails[0]
            .raw
            .contains("Subject: [INC-1] Sitrep v1: Checkout errors")
    );
    assert!(mails[0].raw.contains("Rolling back web tier"));

    let sitrep: Value = app
        .get(&format!("/incidents/{reference}/sitreps/1"))
        .await
        .json()
        .await
        .unwrap();
    let webhook = sitrep["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["channel"] == "webhook")
        .unwrap()
        .clone();
    assert_eq!(webhook["status"], "pending");
    assert!(
        webhook["last_error"].as_str().unwrap().contains("500"),
        "{webhook}"
    );

    app.clock.advance(Duration::minutes(5));
    let report = app.jobs.drain_outbox().await.unwrap();
    assert_eq!(report.sent, 1);
    let received = bodies.lock().unwrap().clone();
    assert_eq!(received.len(), 1);
    let payload: Value = serde_json::from_str(&received[0]).unwrap();
    let text = payload["text"].as_str().unwrap();
    assert!(
        text.contains("Sitrep v1") && text.contains("Checkout errors since deploy 4312"),
        "{text}"
    );
    let sitreps: Value = app
        .get(&format!("/incidents/{reference}/sitreps"))
        .await
        .json()
        .await
        .unwrap();
    assert!(
        sitreps["items"][0]["deliveries"]
            .as_array()
            .unwrap()
            .iter()
            .all(|d| d["status"] == "sent")
    );

    // The next version goes out too; nothing is sent twice.
    let resp = app
        .post(
            &format!("/incidents/{reference}/sitreps"),
            json!({"summary": "Rolled back; error rate normal."}),
        )
        .await;
    assert_eq!(resp.status(), 201);
    let report = app.jobs.drain_outbox().await.unwrap();
    assert_eq!(report.sent, 2);
    assert_eq!(app.jobs.mailer().mailbox().unwrap().messages().len(), 2);
    assert_eq!(bodies.lock().unwrap().len(), 2);
}

#[tokio::test]
async fn bad_channels_are_refused_naming_the_field() {
    let app = spawn_app().await;
    let incident = app.simple_incident().await;
    let path = format!("/incidents/{}/channels", incident["ref"].as_str().unwrap());
    for (body, status, field, why) in [
        (
            json!({"kind": "email", "target": "not an address"}),
            422,
            "target",
            "no @",
        ),
        (
            json!({"kind": "webhook", "target": "ftp://hooks.example.com/x"}),
            422,
            "target",
            "not http",
        ),
        (
            json!({"kind": "webhook", "target": "hooks"}),
            422,
            "target",
            "not a URL",
        ),
        (
            json!({"kind": "pager", "target": "x@example.com"}),
            422,
            "kind",
            "unknown kind",
        ),
        (json!({"kind": "email"}), 422, "target", "missing"),
    ] {
        let resp = app.post(&path, body).await;
        assert_problem(resp, status, Some(field)).await;
        let _ = why;
    }
    let ok = json!({"kind": "email", "target": "war-room@example.com"});
    assert_eq!(app.post(&path, ok.clone()).await.status(), 201);
    assert_problem(app.post(&path, ok).await, 409, Some("target")).await;
    let resp = app
        .post(
            "/incidents/INC-99/channels",
            json!({"kind": "email", "target": "a@example.com"}),
        )
        .await;
    assert_problem(resp, 404, None).await;
    let list: Value = app.get(&path).await.json().await.unwrap();
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    let id = list["items"][0]["id"].as_str().unwrap();
    let resp = app
        .api(reqwest::Method::DELETE, &format!("{path}/{id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);
    let list: Value = app.get(&path).await.json().await.unwrap();
    assert_eq!(list["items"], json!([]));
}

#[tokio::test]
async fn owners_of_overdue_items_get_one_reminder_per_period() {
    let app = spawn_app_with(|s| {
        s.reminders.owner_domain = Some("example.com".into());
    })
    .await;
    let incident = app.simple_incident().await;
    let reference = incident["ref"].as_str().unwrap();
    // Planned in October, when every due date was ahead.
    app.clock
        .set(Utc.with_ymd_and_hms(2026, 10, 20, 10, 0, 0).unwrap());
    for (title, owner, due) in [
        ("Alert on replica lag", "ana@example.com", "2026-11-10"),
        ("Runbook for failover", "ana@example.com", "2026-11-12"),
        ("Capacity review", "Ben", "2026-11-01"),
        ("Not yet due", "ana@example.com", "2026-12-30"),
    ] {
        let resp = app
            .post(
                "/remediations",
                json!({"title": title, "kind": "process", "priority": "p1", "owner": owner,
                       "due_date": due, "incidents": [reference]}),
            )
            .await;
        assert_eq!(resp.status(), 201, "{}", resp.text().await.unwrap());
    }
    // Monday 08:00 UTC: the default reminder schedule.
    app.clock
        .set(Utc.with_ymd_and_hms(2026, 11, 23, 8, 0, 30).unwrap());
    let report = app.jobs.run_once().await.unwrap();
    assert!(
        report.runs.iter().any(|r| r.starts_with("reminders@")),
        "{report:?}"
    );
    let mails = app.jobs.mailer().mailbox().unwrap().messages();
    assert_eq!(mails.len(), 2, "one per owner");
    let ana = mails.iter().find(|m| m.to == ["ana@example.com"]).unwrap();
    assert!(ana.raw.contains("Subject: 2 overdue remediation items"));
    assert!(ana.raw.contains("REM-1") && ana.raw.contains("REM-2") && !ana.raw.contains("REM-4"));
    let ben = mails.iter().find(|m| m.to == ["ben@example.com"]).unwrap();
    assert!(ben.raw.contains("REM-3"));

    // The same period again: nothing new.
    app.clock.advance(Duration::hours(3));
    app.jobs.run_once().await.unwrap();
    assert_eq!(app.jobs.mailer().mailbox().unwrap().messages().len(), 2);
    // The next week: reminded again.
    app.clock.advance(Duration::days(7));
    app.jobs.run_once().await.unwrap();
    assert_eq!(app.jobs.mailer().mailbox().unwrap().messages().len(), 4);
}
