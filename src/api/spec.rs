//! The published OpenAPI spec, and the check of every request body against
//! it: what the spec promises is what the server enforces.
//!
//! poem-openapi generates the spec from the code. Two things are added
//! here: every object a request body can hold says
//! `additionalProperties: false` (unknown fields are refused), and the
//! request schemas are compiled into JSON Schema validators (OpenAPI 3.0's
//! `nullable` turned into a `null` type) that `ApiJson` (in `json.rs`, which calls this file) runs
//! before a body is deserialised. A length, pattern, range, enum or
//! nullability stated in the spec is therefore checked for every body,
//! with the field named, in one place.

use std::{
    collections::{BTreeSet, HashMap},
    sync::LazyLock,
};

use serde_json::{Map, Value};

/// The spec as published (`/openapi.json`, `openapi/openapi.yaml`), in the
/// order poem-openapi writes it.
static SPEC: LazyLock<serde_yaml::Value> = LazyLock::new(|| {
    let mut spec: serde_yaml::Value =
        serde_yaml::from_str(&super::service().spec_yaml()).expect("poem-openapi writes YAML");
    let as_json: Value = serde_json::to_value(&spec).expect("the spec is JSON-compatible");
    let closed = request_schemas(&as_json);
    if let Some(schemas) = spec
        .get_mut("components")
        .and_then(|c| c.get_mut("schemas"))
        .and_then(serde_yaml::Value::as_mapping_mut)
    {
        for (name, schema) in schemas.iter_mut() {
            let Some(name) = name.as_str() else { continue };
            if !closed.contains(name) {
                continue;
            }
            if let Some(map) = schema.as_mapping_mut()
                && map.contains_key("properties")
                && !map.contains_key("additionalProperties")
            {
                map.insert("additionalProperties".into(), false.into());
            }
        }
    }
    spec
});

/// The spec as YAML.
pub fn spec_yaml() -> String {
    serde_yaml::to_string(&*SPEC).expect("the spec serialises")
}

/// The spec as JSON.
pub fn spec_json() -> String {
    serde_json::to_string(&*SPEC).expect("the spec serialises")
}

/// The names of the component schemas a request body can hold: those a
/// request body refers to, and those they refer to, transitively.
fn request_schemas(spec: &Value) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let mut todo: Vec<String> = Vec::new();
    if let Some(paths) = spec.get("paths").and_then(Value::as_object) {
        for operation in paths
            .values()
            .filter_map(Value::as_object)
            .flat_map(|p| p.values())
        {
            if let Some(content) = operation
                .pointer("/requestBody/content")
                .and_then(Value::as_object)
            {
                for media in content.values() {
                    collect_refs(media.get("schema").unwrap_or(&Value::Null), &mut todo);
                }
            }
        }
    }
    let schemas = spec.pointer("/components/schemas");
    while let Some(name) = todo.pop() {
        if found.insert(name.clone())
            && let Some(schema) = schemas.and_then(|s| s.get(&name))
        {
            collect_refs(schema, &mut todo);
        }
    }
    found
}

fn collect_refs(schema: &Value, into: &mut Vec<String>) {
    match schema {
        Value::Object(map) => {
            if let Some(Value::String(r)) = map.get("$ref")
                && let Some(name) = r.strip_prefix("#/components/schemas/")
            {
                into.push(name.to_string());
            }
            for value in map.values() {
                collect_refs(value, into);
            }
        }
        Value::Array(items) => items.iter().for_each(|item| collect_refs(item, into)),
        _ => {}
    }
}

/// The published spec with OpenAPI 3.0's `nullable: true` written as JSON
/// Schema (a `null` type), for the validators.
static VALIDATION_ROOT: LazyLock<Value> = LazyLock::new(|| {
    let mut spec = serde_json::to_value(&*SPEC).expect("the spec is JSON-compatible");
    if let Some(schemas) = spec.pointer_mut("/components/schemas") {
        nullable_to_null_type(schemas);
    }
    spec
});

fn nullable_to_null_type(schema: &mut Value) {
    match schema {
        Value::Object(map) => {
            for value in map.values_mut() {
                nullable_to_null_type(value);
            }
            if map.remove("nullable") == Some(Value::Bool(true)) {
                if let Some(Value::Array(values)) = map.get_mut("enum") {
                    values.push(Value::Null);
                }
                match map.get("type").cloned() {
                    Some(Value::String(t)) => {
                        map.insert("type".into(), Value::Array(vec![t.into(), "null".into()]));
                    }
                    _ => {
                        let inner = Value::Object(std::mem::take(map));
                        let mut either = Map::new();
                        either.insert(
                            "anyOf".into(),
                            Value::Array(vec![inner, serde_json::json!({"type": "null"})]),
                        );
                        *map = either;
                    }
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(nullable_to_null_type),
        _ => {}
    }
}

/// One validator per component schema a request body can have, compiled
/// once.
static VALIDATORS: LazyLock<HashMap<String, jsonschema::Validator>> = LazyLock::new(|| {
    let root = &*VALIDATION_ROOT;
    request_schemas(root)
        .into_iter()
        .filter_map(|name| {
            let mut schema = Map::new();
            schema.insert("$ref".into(), format!("#/components/schemas/{name}").into());
            schema.insert("components".into(), root.get("components")?.clone());
            let validator = jsonschema::draft4::new(&Value::Object(schema))
                .unwrap_or_else(|err| panic!("the schema of {name} compiles: {err}"));
            Some((name, validator))
        })
        .collect()
});

/// The check of a `date-time` string, by the same validator as the
/// bodies' (the `format` of draft 4, RFC 3339).
static DATE_TIME: LazyLock<jsonschema::Validator> = LazyLock::new(|| {
    jsonschema::draft4::new(&serde_json::json!({"type": "string", "format": "date-time"}))
        .expect("a date-time schema compiles")
});

/// Whether `text` is a `date-time` the body validators accept: for a body
/// read without them (`api::json::JsonBody::from_valid_bytes`).
pub fn is_date_time(text: &str) -> bool {
    DATE_TIME.is_valid(&Value::String(text.to_owned()))
}

/// Compile every validator now (at start-up, not on the first request).
pub fn prepare() {
    LazyLock::force(&VALIDATORS);
    LazyLock::force(&DATE_TIME);
}

/// A body that breaks its schema: where, and what the schema allows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaViolation {
    /// `events[3].external_id`; `body` for the body itself.
    pub field: String,
    pub detail: String,
}

/// Check `body` against the component schema `name`.
pub fn check(name: &str, body: &Value) -> Result<(), SchemaViolation> {
    let Some(validator) = VALIDATORS.get(name) else {
        return Ok(());
    };
    // Most bodies are valid: the yes/no check builds no error values (a
    // `oneOf` body such as a timeline POST fails one branch every time),
    // and the errors are collected only for a body that has some.
    if validator.is_valid(body) {
        return Ok(());
    }
    let Some(error) = validator.iter_errors(body).next() else {
        return Ok(());
    };
    let found = most_specific(&error);
    if let Some(unknown) = found.unexpected {
        let field = if found.at.is_empty() {
            unknown.clone()
        } else {
            format!("{}.{unknown}", found.at)
        };
        let known = known_properties(name, &found.at);
        let hint = closest(&unknown, &known)
            .map(|k| format!("; did you mean `{k}`?"))
            .unwrap_or_default();
        return Err(SchemaViolation {
            detail: format!("`{field}` is not a field of this request{hint}"),
            field,
        });
    }
    let field = if found.at.is_empty() {
        "body".to_string()
    } else {
        found.at
    };
    Err(SchemaViolation {
        detail: format!("`{field}`: {}", found.message),
        field,
    })
}

/// What a validation error says, at its most specific.
struct Found {
    /// Field path of the failing value.
    at: String,
    /// An unknown property, for `additionalProperties`.
    unexpected: Option<String>,
    message: String,
}

/// A value that matches none of `anyOf`/`oneOf` (a nullable object, a body
/// that is one of two shapes) is reported by the branch that got furthest
/// into it: the deepest first error, then the fewest errors, then the
/// first branch (the schema itself, before its `null` alternative).
fn most_specific(error: &jsonschema::ValidationError<'_>) -> Found {
    use jsonschema::error::ValidationErrorKind as Kind;
    let branches = match error.kind() {
        Kind::AnyOf { context } | Kind::OneOfNotValid { context } => Some(context),
        _ => None,
    };
    if let Some(best) = branches.and_then(|branches| {
        branches
            .iter()
            .enumerate()
            .filter_map(|(i, b)| b.first().map(|e| (i, e, b.len())))
            .max_by_key(|(i, e, n)| {
                (
                    e.instance_path().as_str().len(),
                    std::cmp::Reverse(*n),
                    std::cmp::Reverse(*i),
                )
            })
    }) {
        return most_specific(best.1);
    }
    if let Kind::Required { property } = error.kind() {
        let name = property.as_str().unwrap_or_default();
        let at = field_path(error.instance_path().as_str());
        let at = if at.is_empty() {
            name.to_string()
        } else {
            format!("{at}.{name}")
        };
        return Found {
            message: "is required".into(),
            at,
            unexpected: None,
        };
    }
    Found {
        at: field_path(error.instance_path().as_str()),
        unexpected: match error.kind() {
            Kind::AdditionalProperties { unexpected } => unexpected.first().cloned(),
            _ => None,
        },
        message: error.to_string(),
    }
}

/// The properties the object at `at` (a field path) may have, from the
/// schema `name`.
fn known_properties(name: &str, at: &str) -> Vec<String> {
    let schemas = VALIDATION_ROOT.pointer("/components/schemas");
    let mut schema = schemas.and_then(|s| s.get(name));
    for segment in at.split(['.', '[']).filter(|s| !s.is_empty()) {
        let Some(current) = schema.map(|s| resolve(schemas, s)) else {
            break;
        };
        schema = if segment.ends_with(']') {
            current.get("items")
        } else {
            current.get("properties").and_then(|p| p.get(segment))
        };
    }
    schema
        .map(|s| resolve(schemas, s))
        .and_then(|s| s.get("properties"))
        .and_then(Value::as_object)
        .map(|p| p.keys().cloned().collect())
        .unwrap_or_default()
}

/// Follow `$ref`, `allOf` and `anyOf` wrappers to the schema with content.
fn resolve<'a>(schemas: Option<&'a Value>, mut schema: &'a Value) -> &'a Value {
    for _ in 0..8 {
        if let Some(Value::String(r)) = schema.get("$ref")
            && let Some(found) = r
                .strip_prefix("#/components/schemas/")
                .and_then(|n| schemas?.get(n))
        {
            schema = found;
        } else if let Some(first) = schema
            .get("allOf")
            .or_else(|| schema.get("anyOf"))
            .and_then(|a| a.get(0))
        {
            schema = first;
        } else {
            break;
        }
    }
    schema
}

/// The known name closest to an unknown one, when it is close enough to be
/// a typo.
pub fn closest<'a>(unknown: &str, known: &'a [String]) -> Option<&'a str> {
    known
        .iter()
        .map(|k| (strsim::damerau_levenshtein(unknown, k), k))
        .filter(|(distance, k)| *distance <= 2.max(k.len() / 4))
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, k)| k.as_str())
}

/// `/events/3/external_id` → `events[3].external_id`.
fn field_path(pointer: &str) -> String {
    let mut out = String::new();
    for segment in pointer.split('/').skip(1) {
        let segment = segment.replace("~1", "/").replace("~0", "~");
        if segment.chars().all(|c| c.is_ascii_digit()) && !segment.is_empty() {
            out.push_str(&format!("[{segment}]"));
        } else {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(&segment);
        }
    }
    out
}

/// What a path or query parameter that failed to parse should have been,
/// in Debrief's words, read from the parameter's schema in the spec:
/// "`limit` is \"501\": it must be a whole number from 1 to 500".
/// `name` is the parameter's name as poem-openapi reports it (`param0` for
/// the first path parameter). `None` for a header: a header that cannot be
/// read makes a malformed request (400), answered as it is.
pub fn parameter_problem(
    method: &str,
    path: &str,
    name: &str,
    value: Option<&str>,
) -> Option<(String, String)> {
    let spec = &*VALIDATION_ROOT;
    let found = find_operation(spec, method, path);
    let operation = found.as_ref().map(|(_, op)| *op);
    let parameters: Vec<&Value> = operation
        .and_then(|op| op.get("parameters"))
        .and_then(Value::as_array)
        .map(|p| p.iter().collect())
        .unwrap_or_default();
    let by_position = name
        .strip_prefix("param")
        .and_then(|n| n.parse::<usize>().ok())
        .and_then(|n| {
            parameters
                .iter()
                .filter(|p| p.get("in") == Some(&Value::from("path")))
                .nth(n)
        });
    let parameter = parameters
        .iter()
        .find(|p| p.get("name").and_then(Value::as_str) == Some(name))
        .or(by_position);
    if parameter.and_then(|p| p.get("in")) == Some(&Value::from("header"))
        || (parameter.is_none() && name.chars().any(|c| c.is_ascii_uppercase()))
    {
        return None;
    }
    let field = parameter
        .and_then(|p| p.get("name"))
        .and_then(Value::as_str)
        .unwrap_or(name)
        .to_string();
    let schemas = spec.pointer("/components/schemas");
    let expected = parameter
        .and_then(|p| p.get("schema"))
        .map(|s| expectation(resolve(schemas, s)))
        .unwrap_or_else(|| "a valid value".into());
    // A path parameter's value is the segment under `{name}`.
    let from_path = found.as_ref().and_then(|(template, _)| {
        let at = template
            .split('/')
            .filter(|s| !s.is_empty())
            .position(|s| s == format!("{{{field}}}"))?;
        let segment = path
            .strip_prefix("/api/v1")
            .unwrap_or(path)
            .split('/')
            .filter(|s| !s.is_empty())
            .nth(at)?;
        Some(
            percent_encoding::percent_decode_str(segment)
                .decode_utf8_lossy()
                .into_owned(),
        )
    });
    let value = value.map(str::to_string).or(from_path);
    let shown = match value.as_deref() {
        Some(v) if v.chars().count() > 100 => {
            format!("{:?}…", v.chars().take(100).collect::<String>())
        }
        Some(v) => format!("{v:?}"),
        None => "missing".into(),
    };
    let detail = format!("`{field}` is {shown}: it must be {expected}");
    Some((field, detail))
}

/// The operation of the spec answering `method` on `path` (under
/// `/api/v1`); the route with the most literal segments wins, as in the
/// router.
fn find_operation<'a>(spec: &'a Value, method: &str, path: &str) -> Option<(&'a str, &'a Value)> {
    let path = path.strip_prefix("/api/v1").unwrap_or(path);
    let wanted: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    spec.get("paths")?
        .as_object()?
        .iter()
        .filter_map(|(template, item)| {
            let pattern: Vec<&str> = template.split('/').filter(|s| !s.is_empty()).collect();
            let matches = pattern.len() == wanted.len()
                && pattern
                    .iter()
                    .zip(&wanted)
                    .all(|(p, w)| p.starts_with('{') || p == w);
            let literal = pattern.iter().filter(|p| !p.starts_with('{')).count();
            matches
                .then(|| item.get(method.to_ascii_lowercase()))
                .flatten()
                .map(|op| (literal, template.as_str(), op))
        })
        .max_by_key(|(literal, _, _)| *literal)
        .map(|(_, template, op)| (template, op))
}

/// What a value of `schema` looks like, in words.
fn expectation(schema: &Value) -> String {
    let number = |key: &str| schema.get(key).and_then(Value::as_f64);
    if let Some(values) = schema.get("enum").and_then(Value::as_array) {
        let names: Vec<String> = values
            .iter()
            .filter_map(Value::as_str)
            .map(|v| format!("`{v}`"))
            .collect();
        return format!("one of {}", names.join(", "));
    }
    let types: Vec<&str> = match schema.get("type") {
        Some(Value::String(t)) => vec![t.as_str()],
        Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    if types.contains(&"integer") || types.contains(&"number") {
        let what = if types.contains(&"integer") {
            "a whole number"
        } else {
            "a number"
        };
        return match (number("minimum"), number("maximum")) {
            (Some(min), Some(max)) => format!("{what} from {min} to {max}"),
            (Some(min), None) => format!("{what} of at least {min}"),
            (None, Some(max)) => format!("{what} of at most {max}"),
            (None, None) => what.to_string(),
        };
    }
    if types.contains(&"boolean") {
        return "`true` or `false`".into();
    }
    let format = schema.get("format").and_then(Value::as_str);
    let base = match format {
        Some("date") => "a date such as 2026-11-30".to_string(),
        Some("date-time") => "an RFC 3339 date-time such as 2026-11-30T09:00:00Z".to_string(),
        Some(DATE_OR_TIME) => "a date such as 2026-11-30 or an RFC 3339 date-time such as \
                               2026-11-30T09:00:00Z"
            .to_string(),
        Some("uuid") => "a UUID".to_string(),
        _ => match schema.get("pattern").and_then(Value::as_str) {
            Some(pattern) => format!("text matching `{pattern}`"),
            None => "text".to_string(),
        },
    };
    match schema.get("maxLength").and_then(Value::as_u64) {
        Some(max) => format!("{base}, at most {max} characters"),
        None => base,
    }
}

/// The `format` of a parameter that takes a date or a date-time.
pub const DATE_OR_TIME: &str = "date-or-date-time";

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn bodies_are_checked_against_the_published_schemas() {
        assert_eq!(
            check(
                "CreateIncidentRequest",
                &json!({"title": "x", "severity": "sev2", "custmer_impact": "y"})
            ),
            Err(SchemaViolation {
                field: "custmer_impact".into(),
                detail: "`custmer_impact` is not a field of this request; did you mean \
                         `customer_impact`?"
                    .into()
            })
        );
        let err = check("UpdateIncidentRequest", &json!({"title": null})).unwrap_err();
        assert_eq!(err.field, "title");
        assert!(
            check("UpdateIncidentRequest", &json!({"customer_impact": null})).is_ok(),
            "a field that may be cleared takes null"
        );
        let err = check(
            "TimelineBatch",
            &json!({"events": [{"kind": "note", "body": "a"}, {"kind": "note", "body": "b", "external_id": ""}]}),
        )
        .unwrap_err();
        assert_eq!(err.field, "events[1].external_id");
    }

    #[test]
    fn the_published_spec_closes_request_objects_only() {
        let spec: Value = serde_json::from_str(&spec_json()).unwrap();
        let schemas = &spec["components"]["schemas"];
        assert_eq!(
            schemas["CreateIncidentRequest"]["additionalProperties"],
            json!(false)
        );
        assert!(schemas["Incident"].get("additionalProperties").is_none());
    }

    #[test]
    fn typos_find_their_field() {
        let known = ["customer_impact".to_string(), "title".to_string()];
        assert_eq!(closest("custmer_impact", &known), Some("customer_impact"));
        assert_eq!(closest("tilte", &known), Some("title"));
        assert_eq!(closest("colour", &known), None);
    }
}
