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

/// The API's surface in one reviewed snapshot: every operation with its
/// parameters, request body and answers, and every schema's properties with
/// their limits. `openapi/openapi.yaml` is the whole document; this is the
/// part a reviewer must see change (a new status, a dropped field, a looser
/// limit) in a diff of a few lines.
#[test]
fn the_api_surface_is_as_reviewed() {
    let spec: Value = serde_json::from_str(&debrief::api::spec::spec_json()).unwrap();
    let mut operations = Vec::new();
    for (path, item) in spec["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let params: Vec<String> = op["parameters"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|p| {
                    let required = if p["required"] == true { "" } else { "?" };
                    format!(
                        "{}:{}{required}",
                        p["in"].as_str().unwrap(),
                        p["name"].as_str().unwrap()
                    )
                })
                .collect();
            let body = op["requestBody"]["content"]
                .as_object()
                .map(|c| c.keys().cloned().collect::<Vec<_>>().join(", "));
            let answers: Vec<&str> = op["responses"]
                .as_object()
                .unwrap()
                .keys()
                .map(String::as_str)
                .collect();
            let mut line = format!(
                "{} {path} {}",
                method.to_uppercase(),
                op["operationId"].as_str().unwrap()
            );
            if !params.is_empty() {
                line.push_str(&format!(" ({})", params.join(", ")));
            }
            if let Some(body) = body {
                line.push_str(&format!(" body={body}"));
            }
            line.push_str(&format!(" -> {}", answers.join(" ")));
            operations.push(line);
        }
    }
    let mut schemas = serde_json::Map::new();
    for (name, schema) in spec["components"]["schemas"].as_object().unwrap() {
        let required: Vec<&str> = schema["required"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        let mut props = Vec::new();
        for (prop, def) in schema["properties"].as_object().into_iter().flatten() {
            let mut line = prop.clone();
            if !required.contains(&prop.as_str()) {
                line.push('?');
            }
            for key in [
                "type",
                "format",
                "$ref",
                "minLength",
                "maxLength",
                "minimum",
                "maximum",
                "maxItems",
                "pattern",
                "enum",
            ] {
                if let Some(v) = def.get(key) {
                    let shown = v.as_str().map_or_else(|| v.to_string(), str::to_string);
                    line.push_str(&format!(" {key}={shown}"));
                }
            }
            props.push(line);
        }
        if let Some(values) = schema.get("enum") {
            props.push(format!("enum={values}"));
        }
        schemas.insert(name.clone(), Value::from(props));
    }
    insta::assert_yaml_snapshot!(
        "api_surface",
        serde_json::json!({"operations": operations, "schemas": schemas})
    );
}
