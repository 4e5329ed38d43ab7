use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::json;

use super::approval::Answer;
use super::*;

/// Where to look.
#[derive(Debug, Deserialize, JsonSchema)]
#[allow(dead_code)]
struct Search {
    /// What to look for.
    query: String,
    /// How many results.
    #[serde(default)]
    limit: Option<u32>,
}

#[test]
fn a_schema_is_an_object_schema_without_schema_or_title() {
    let schema = schema_of::<Search>();
    assert_eq!(schema["type"], "object");
    assert_eq!(schema["required"], json!(["query"]));
    assert_eq!(
        schema["properties"]["query"]["description"],
        "What to look for."
    );
    assert!(schema.get("$schema").is_none() && schema.get("title").is_none());
    let none = schema_of::<NoArgs>();
    assert_eq!(none["type"], "object");
    assert_eq!(none["properties"], json!({}));
}

#[test]
fn arguments_that_do_not_fit_are_an_invalid_args_error_with_a_bounded_reason() {
    let wrong = Search::parse(json!({ "query": 7 })).unwrap_err();
    assert!(
        matches!(&wrong, ToolError::InvalidArgs(reason) if reason.contains("invalid type")),
        "{wrong}"
    );
    let huge = "x".repeat(100_000);
    let long = u32::parse(json!(huge)).unwrap_err();
    assert!(
        long.to_string().len() < 1_100,
        "{} bytes",
        long.to_string().len()
    );
    assert!(NoArgs::parse(json!({})).is_ok());
    assert!(NoArgs::parse(json!({ "anything": 1 })).is_ok());
}

#[test]
fn outputs_convert_from_text_and_json() {
    assert_eq!(ToolOutput::from("done").text(), "done");
    assert_eq!(ToolOutput::from(json!("plain")).text(), "plain");
    assert_eq!(ToolOutput::from(json!({ "a": 1 })).text(), r#"{"a":1}"#);
    let with = ToolOutput::new("3 rows").with_artifact(json!([1, 2, 3]));
    assert_eq!(with.artifact, Some(json!([1, 2, 3])));
}

#[test]
fn decisions_read_alone_or_in_langchains_response() {
    let one: Answer = serde_json::from_value(json!({ "type": "approve" })).unwrap();
    assert_eq!(one.into_decision(), Some(Decision::Approve));
    let listed: Answer = serde_json::from_value(json!({
        "decisions": [{ "type": "edit", "edited_action": { "name": "search", "args": { "query": "b" } } }]
    }))
    .unwrap();
    assert_eq!(
        listed.into_decision(),
        Some(Decision::edit("search", json!({ "query": "b" })))
    );
    let reject: Answer =
        serde_json::from_value(json!({ "type": "reject", "message": "no" })).unwrap();
    assert_eq!(reject.into_decision(), Some(Decision::reject("no")));
    let two: Answer = serde_json::from_value(json!({
        "decisions": [{ "type": "approve" }, { "type": "approve" }]
    }))
    .unwrap();
    assert_eq!(two.into_decision(), None);
    assert_eq!(
        serde_json::to_value(Decision::reject("why")).unwrap(),
        json!({ "type": "reject", "message": "why" })
    );
}
