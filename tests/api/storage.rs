//! Stored values read back typed: a corrupt enumeration or JSON list is a
//! 500 that tells the client nothing internal, and an error for the log
//! that names the column, the row and the value.

use debrief::{domain::IncidentRef, services};
use sea_orm::ConnectionTrait;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::spawn_app;

#[tokio::test]
async fn a_corrupt_stored_value_is_a_500_whose_error_names_the_row() {
    let app = spawn_app().await;
    let incident = app.simple_incident().await;
    let incident_id: Uuid = incident["id"].as_str().unwrap().parse().unwrap();
    let resp = app
        .post(
            "/incidents/INC-1/status-updates",
            json!({"status": "identified", "message": "Found it", "affected_components": ["checkout"]}),
        )
        .await;
    assert_eq!(resp.status(), 201);
    let update_id: Uuid = resp.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let db = &app.context.db;

    // (what is corrupted, how, how to restore it, the page that reads it,
    //  what the error must name)
    let cases = [
        (
            "an enumeration no variant reads",
            "UPDATE incidents SET severity = 'sev9'",
            "UPDATE incidents SET severity = 'sev2'",
            "/incidents/INC-1",
            vec!["`severity`", "sev9", "sev1, sev2"],
        ),
        (
            "a JSON list that is an object",
            r#"UPDATE incidents SET labels = '{"a":1}'"#,
            "UPDATE incidents SET labels = '[]'",
            "/incidents/INC-1",
            vec!["`labels`", "not a JSON list"],
        ),
        (
            "a JSON list that is not JSON",
            "UPDATE status_updates SET affected_components = 'checkout'",
            r#"UPDATE status_updates SET affected_components = '["checkout"]'"#,
            "/incidents/INC-1/status-updates",
            vec!["`affected_components`", "not a JSON list"],
        ),
    ];
    for (case, corrupt, restore, page, named) in cases {
        db.execute_unprepared(corrupt).await.unwrap();

        let resp = app.get(page).await;
        assert_eq!(resp.status(), 500, "{case}: GET {page}");
        let body = resp.text().await.unwrap();
        assert!(
            body.contains("an internal error occurred; it has been logged"),
            "{case}: the generic 500 body, got {body}"
        );
        for internal in ["corrupt", "column", "sev9", "labels", "affected_components"] {
            assert!(
                !body.contains(internal),
                "{case}: the body leaks {internal:?}: {body}"
            );
        }

        // What the log gets: the service's error.
        let (err, row) = if page.ends_with("status-updates") {
            let err = services::status_updates::list_for(db, incident_id)
                .await
                .expect_err("a corrupt list does not read");
            (err, update_id)
        } else {
            let err = services::find_incident(db, IncidentRef::Number(1))
                .await
                .expect_err("a corrupt incident does not read");
            (err, incident_id)
        };
        let message = err.to_string();
        assert!(
            message.contains(&format!("row {row}")),
            "{case}: names the row: {message}"
        );
        for name in named {
            assert!(message.contains(name), "{case}: names {name:?}: {message}");
        }

        db.execute_unprepared(restore).await.unwrap();
        assert_eq!(app.get(page).await.status(), 200, "{case}: restored");
    }
}

#[tokio::test]
async fn a_corrupt_redaction_kind_is_a_500_whose_error_names_the_rule() {
    let app = spawn_app().await;
    app.simple_incident().await;
    let resp = app
        .post("/incidents/INC-1/redactions", json!({"term": "db-7"}))
        .await;
    assert_eq!(resp.status(), 201);
    let rule_id = resp.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let db = &app.context.db;
    // A kind written by hand that no version of Debrief writes.
    db.execute_unprepared("UPDATE redaction_rules SET kind = 'regex'")
        .await
        .unwrap();

    let resp = app.get("/incidents/INC-1/redactions").await;
    assert_eq!(resp.status(), 500);
    let body = resp.text().await.unwrap();
    assert!(
        !body.contains("regex") && !body.contains("kind"),
        "the body leaks nothing internal: {body}"
    );
    let message = services::redactions::list_for_incident(&app.context, IncidentRef::Number(1))
        .await
        .expect_err("a corrupt kind does not read")
        .to_string();
    for name in [
        "`kind`".to_string(),
        format!("row {rule_id}"),
        "regex".into(),
        "term, pattern".into(),
    ] {
        assert!(message.contains(&name), "names {name:?}: {message}");
    }

    db.execute_unprepared("UPDATE redaction_rules SET kind = 'term'")
        .await
        .unwrap();
    assert_eq!(app.get("/incidents/INC-1/redactions").await.status(), 200);
}
