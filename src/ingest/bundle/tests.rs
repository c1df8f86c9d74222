//! The bundle's JSON Schema states the same lengths as the parser.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::domain::{
    Description, EventBody, ExternalId, FactorNote, HttpUrl, ListEntry, LongText, Name,
    NotRequiredReason, Reason, RoleName, SectionBody, SectionKey, SectionTitle, ShortText,
    SitrepSummary, StatusMessage, Title, UpdateSource,
};

/// Each text field of a bundle and the longest text its parser takes: the
/// `MAX_CHARS` of the type `into_record` checks it with (the API's type
/// where the API takes the field too). `[]` stands for an array's entries.
fn parser_limits() -> BTreeMap<&'static str, usize> {
    BTreeMap::from([
        ("incident.title", Title::MAX_CHARS),
        ("incident.customer_impact", LongText::MAX_CHARS),
        ("incident.affected_components[]", ListEntry::MAX_CHARS),
        ("incident.chat_room_url", HttpUrl::MAX_CHARS),
        ("incident.labels[]", ListEntry::MAX_CHARS),
        ("roles[].role", RoleName::MAX_CHARS),
        ("roles[].person", Name::MAX_CHARS),
        ("sitreps[].summary", SitrepSummary::MAX_CHARS),
        ("sitreps[].customer_impact", LongText::MAX_CHARS),
        ("sitreps[].open_issues[]", ListEntry::MAX_CHARS),
        ("sitreps[].resolved_issues[]", ListEntry::MAX_CHARS),
        ("sitreps[].current_actions[]", ListEntry::MAX_CHARS),
        ("sitreps[].author", ShortText::MAX_CHARS),
        ("status_updates[].message", StatusMessage::MAX_CHARS),
        (
            "status_updates[].affected_components[]",
            ListEntry::MAX_CHARS,
        ),
        ("status_updates[].source", UpdateSource::MAX_CHARS),
        ("status_updates[].external_id", ShortText::MAX_CHARS),
        ("cleanup_items[].description", Description::MAX_CHARS),
        ("cleanup_items[].owner", ShortText::MAX_CHARS),
        ("cleanup_items[].reason", Reason::MAX_CHARS),
        ("remediation_items[].title", Title::MAX_CHARS),
        ("remediation_items[].description", LongText::MAX_CHARS),
        ("remediation_items[].owner", ShortText::MAX_CHARS),
        ("remediation_items[].team", ShortText::MAX_CHARS),
        ("remediation_items[].reason", Reason::MAX_CHARS),
        ("remediation_items[].tracker_url", HttpUrl::MAX_CHARS),
        ("postmortem.owner", ShortText::MAX_CHARS),
        (
            "postmortem.not_required_reason",
            NotRequiredReason::MAX_CHARS,
        ),
        ("postmortem.slug", ShortText::MAX_CHARS),
        ("postmortem.sections[].key", SectionKey::MAX_CHARS),
        ("postmortem.sections[].title", SectionTitle::MAX_CHARS),
        ("postmortem.sections[].body", SectionBody::MAX_CHARS),
        (
            "postmortem.contributing_factors[].note",
            FactorNote::MAX_CHARS,
        ),
        ("timeline[].body", EventBody::MAX_CHARS),
        ("timeline[].author", ShortText::MAX_CHARS),
        ("timeline[].external_id", ExternalId::MAX_CHARS),
    ])
}

/// Every `maxLength` of the schema, by the path of its field.
fn schema_limits(node: &Value, path: &str, found: &mut BTreeMap<String, u64>) {
    let Value::Object(node) = node else { return };
    if let Some(max) = node.get("maxLength").and_then(Value::as_u64) {
        found.insert(path.to_string(), max);
    }
    if let Some(Value::Object(properties)) = node.get("properties") {
        for (name, property) in properties {
            let path = if path.is_empty() {
                name.clone()
            } else {
                format!("{path}.{name}")
            };
            schema_limits(property, &path, found);
        }
    }
    if let Some(items) = node.get("items") {
        schema_limits(items, &format!("{path}[]"), found);
    }
    for choice in ["oneOf", "anyOf"] {
        for option in node
            .get(choice)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            schema_limits(option, path, found);
        }
    }
}

#[test]
fn the_bundle_schema_states_the_lengths_the_parser_takes() {
    let schema: Value =
        serde_json::from_str(include_str!("../../../openapi/bundle.schema.json")).unwrap();
    let mut stated = BTreeMap::new();
    schema_limits(&schema, "", &mut stated);
    let expected: BTreeMap<String, u64> = parser_limits()
        .into_iter()
        .map(|(path, max)| (path.to_string(), max as u64))
        .collect();
    assert_eq!(
        stated, expected,
        "openapi/bundle.schema.json states other lengths than the bundle parser \
         (`ingest/bundle.rs`) takes"
    );
}
