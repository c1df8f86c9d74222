//! The committed spec must be what the code generates.

use serde_json::Value;

use crate::helpers::spawn_app;

#[test]
fn committed_openapi_yaml_is_current() {
    let generated = debrief::api::spec_yaml();
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/openapi/openapi.yaml");
    if std::env::var_os("UPDATE_OPENAPI").is_some() {
        std::fs::write(path, &generated).expect("write openapi/openapi.yaml");
        return;
    }
    let committed = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        committed == generated,
        "openapi/openapi.yaml is stale: regenerate it with `cargo run -- openapi > openapi/openapi.yaml` \
         (or `UPDATE_OPENAPI=1 cargo test --test api openapi`) and commit it"
    );
}

#[test]
fn every_operation_and_schema_property_is_documented() {
    let spec: Value = serde_json::from_str(&debrief::api::spec::spec_json()).unwrap();
    for (path, item) in spec["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let summary = op["summary"].as_str().unwrap_or_default();
            assert!(!summary.is_empty(), "{method} {path} has no summary");
            let id = op["operationId"].as_str().unwrap_or_default();
            assert!(
                id.contains('_'),
                "{method} {path}: operation id {id:?} should read verb_resource"
            );
            for param in op["parameters"].as_array().into_iter().flatten() {
                assert!(
                    param["description"].is_string(),
                    "{method} {path}: parameter {} undocumented",
                    param["name"]
                );
            }
        }
    }
    for (name, schema) in spec["components"]["schemas"].as_object().unwrap() {
        for (prop, def) in schema["properties"].as_object().into_iter().flatten() {
            let documented = def["description"].is_string()
                || def.get("$ref").is_some()
                || def["allOf"].is_array();
            assert!(documented, "schema {name}.{prop} is undocumented");
        }
    }
}

#[tokio::test]
async fn served_spec_matches_generated() {
    let app = spawn_app().await;
    let served: Value = app
        .client
        .get(app.url("/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let generated: Value = serde_json::from_str(&debrief::api::spec::spec_json()).unwrap();
    assert_eq!(served, generated);
}
