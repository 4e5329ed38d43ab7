use serde_json::json;
use stategraph_runtime::{Messages, MessagesUpdate, Reducer};

use super::*;

fn read(value: serde_json::Value) -> ChatMessage {
    serde_json::from_value(value).unwrap()
}

fn refused(value: serde_json::Value) -> String {
    serde_json::from_value::<ChatMessage>(value)
        .unwrap_err()
        .to_string()
}

#[test]
fn roles_strings_and_pairs_read_as_langgraph_reads_them() {
    assert_eq!(
        read(json!({"role": "user", "content": "a"})).role(),
        Role::Human
    );
    assert_eq!(
        read(json!({"role": "assistant", "content": "b"})).role(),
        Role::Ai
    );
    assert_eq!(
        read(json!({"role": "developer", "content": "c"})).role(),
        Role::System
    );
    assert_eq!(
        read(json!({"type": "AIMessageChunk", "content": "d"})).role(),
        Role::Ai
    );
    let text = read(json!("just text"));
    assert_eq!(
        (text.role(), text.text().as_str()),
        (Role::Human, "just text")
    );
    let pair = read(json!(["assistant", "from a pair"]));
    assert_eq!(
        (pair.role(), pair.text().as_str()),
        (Role::Ai, "from a pair")
    );
}

#[test]
fn a_message_without_an_id_gets_one_and_keeps_it() {
    let message = read(json!({"type": "human", "content": "hi"}));
    assert_eq!(message.id().len(), 36, "a UUID");
    let again: ChatMessage =
        serde_json::from_str(&serde_json::to_string(&message).unwrap()).unwrap();
    assert_eq!(
        again.id(),
        message.id(),
        "the id is stored, not drawn again on read"
    );
    assert_ne!(ChatMessage::human("a").id(), ChatMessage::human("a").id());
    let empty = read(json!({"type": "human", "content": "hi", "id": ""}));
    assert!(!empty.id().is_empty());
}

#[test]
fn openai_tool_calls_and_image_blocks_are_read() {
    let ai = read(json!({
        "role": "assistant",
        "content": null,
        "tool_calls": [{
            "id": "call_9", "type": "function",
            "function": {"name": "search", "arguments": "{\"q\": \"rust\"}"}
        }]
    }));
    let call = &ai.tool_calls()[0];
    assert_eq!((call.id.as_str(), call.name.as_str()), ("call_9", "search"));
    assert_eq!(call.args["q"], "rust");
    let human = read(json!({"role": "user", "content": [
        {"type": "text", "text": "look: "},
        {"type": "image_url", "image_url": {"url": "https://x.test/a.png"}}
    ]}));
    assert_eq!(human.text(), "look: ");
    let Content::Parts(parts) = human.content() else {
        panic!("parts expected")
    };
    assert_eq!(parts[1], ContentPart::image_url("https://x.test/a.png"));
    assert_eq!(
        serde_json::to_value(&parts[1]).unwrap(),
        json!({"type": "image", "url": "https://x.test/a.png"})
    );
}

#[test]
fn a_tool_call_without_an_id_gets_one() {
    let ai = read(json!({"type": "ai", "content": "", "tool_calls": [
        {"name": "now", "args": {}, "id": null}
    ]}));
    assert!(!ai.tool_calls()[0].id.is_empty());
}

#[test]
fn malformed_messages_are_refused_without_echoing_the_input() {
    let long = "x".repeat(10_000);
    let error = refused(json!({"type": long, "content": "hi"}));
    assert!(error.contains("unknown message type"), "{error}");
    assert!(error.len() < 200, "the input is not repeated: {error}");
    assert!(refused(json!({"content": "hi"})).contains("needs a `type`"));
    assert!(refused(json!({"type": "tool", "content": "hi"})).contains("tool_call_id"));
    assert!(refused(json!(["tool", "hi"])).contains("tool_call_id"));
    assert!(refused(json!({"type": "human", "content": 7})).contains("content"));
    let bad_args = refused(json!({"type": "ai", "content": "", "tool_calls": [
        {"id": "c", "function": {"name": "f", "arguments": long}}
    ]}));
    assert!(
        bad_args.contains("JSON object") && bad_args.len() < 200,
        "{bad_args}"
    );
}

#[test]
fn the_messages_reducer_appends_replaces_and_removes_by_id() {
    let mut list = vec![ChatMessage::human("draft").with_id("m1")];
    let update = MessagesUpdate::new()
        .push(ChatMessage::ai("answer").with_id("m2"))
        .push(ChatMessage::human("revised").with_id("m1"));
    <Messages as Reducer<Vec<ChatMessage>>>::reduce(&mut list, update);
    let texts: Vec<String> = list.iter().map(ChatMessage::text).collect();
    assert_eq!(texts, ["revised", "answer"]);
    <Messages as Reducer<Vec<ChatMessage>>>::reduce(&mut list, MessagesUpdate::new().remove("m1"));
    assert_eq!(list.len(), 1);
    <Messages as Reducer<Vec<ChatMessage>>>::reduce(&mut list, MessagesUpdate::new().remove_all());
    assert!(list.is_empty());
}

#[test]
fn tool_results_keep_their_status_and_artifact() {
    let error = ChatMessage::from(ToolMessage::error("call_1", "timed out"));
    let json = serde_json::to_value(&error).unwrap();
    assert_eq!(json["status"], "error");
    assert_eq!(json["tool_call_id"], "call_1");
    let result = ToolMessage::new("call_2", "3 rows").with_artifact(json!({"rows": [1, 2, 3]}));
    let back = read(serde_json::to_value(ChatMessage::from(result.clone())).unwrap());
    assert_eq!(back.as_tool(), Some(&result));
}

#[test]
fn usage_adds_up_with_its_details() {
    let mut a = UsageMetadata::new(10, 5);
    a.input_token_details.insert("cache_read".into(), 4);
    let mut b = UsageMetadata::new(1, 2);
    b.input_token_details.insert("cache_read".into(), 1);
    b.output_token_details.insert("reasoning".into(), 2);
    let sum = a + b;
    assert_eq!(
        (sum.input_tokens, sum.output_tokens, sum.total_tokens),
        (11, 7, 18)
    );
    assert_eq!(sum.input_token_details["cache_read"], 5);
    assert_eq!(sum.output_token_details["reasoning"], 2);
}
