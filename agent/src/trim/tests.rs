use serde_json::json;

use super::*;
use crate::messages::{AiMessage, ToolCall, ToolMessage};

fn texts(messages: &[ChatMessage]) -> Vec<String> {
    messages.iter().map(ChatMessage::text).collect()
}

/// system, then: human h1, ai a1, human h2, ai (two calls), tool r1, tool r2, ai a3.
fn history() -> Vec<ChatMessage> {
    let (c1, c2) = (ToolCall::new("f", json!({})), ToolCall::new("g", json!({})));
    vec![
        ChatMessage::system("sys"),
        ChatMessage::human("h1"),
        ChatMessage::ai("a1"),
        ChatMessage::human("h2"),
        AiMessage::with_tool_calls("calls", vec![c1.clone(), c2.clone()]).into(),
        ToolMessage::new(&c1.id, "r1").into(),
        ToolMessage::new(&c2.id, "r2").into(),
        ChatMessage::ai("a3"),
    ]
}

#[test]
fn a_tool_call_and_its_results_are_kept_or_dropped_together() {
    // Room for 3 besides the system message: `a3` fits, the call with its two results (3) does
    // not, so nothing before `a3` is kept — and `a3` alone does not start on a human turn.
    assert_eq!(texts(&Trim::last_messages(4).apply(&history())), ["sys"]);
    assert_eq!(
        texts(
            &Trim::last_messages(4)
                .start_on_human(false)
                .apply(&history())
        ),
        ["sys", "a3"]
    );
    assert_eq!(
        texts(&Trim::last_messages(6).apply(&history())),
        ["sys", "h2", "calls", "r1", "r2", "a3"]
    );
    // Keeping the earliest: the call needs room for its results too.
    assert_eq!(
        texts(&Trim::first_messages(6).apply(&history())),
        ["sys", "h1", "a1", "h2"]
    );
    assert_eq!(
        texts(&Trim::first_messages(7).apply(&history())),
        ["sys", "h1", "a1", "h2", "calls", "r1", "r2"]
    );
}

#[test]
fn the_system_message_is_kept_unless_told_otherwise() {
    // Room for 3: `a3`, then the call unit does not fit, and `a3` alone is not a human turn.
    assert!(
        Trim::last_messages(3)
            .include_system(false)
            .apply(&history())
            .is_empty()
    );
    assert_eq!(
        texts(
            &Trim::last_messages(5)
                .include_system(false)
                .apply(&history())
        ),
        ["h2", "calls", "r1", "r2", "a3"]
    );
    assert!(Trim::last_messages(0).apply(&history()).is_empty());
}

#[test]
fn token_budgets_count_with_the_given_counter() {
    // Each message costs its text's length.
    let by_len = |m: &ChatMessage| m.text().len();
    // sys 3; from the end: a3 2, the call unit 5+2+2=9, h2 2, a1 2, h1 2.
    let kept = Trim::last_tokens(3 + 2 + 9 + 2)
        .counter(by_len)
        .apply(&history());
    assert_eq!(texts(&kept), ["sys", "h2", "calls", "r1", "r2", "a3"]);
    let kept = Trim::last_tokens(3 + 2 + 8)
        .counter(by_len)
        .apply(&history());
    assert_eq!(texts(&kept), ["sys"]);
    let kept = Trim::first_tokens(3 + 2 + 2)
        .counter(by_len)
        .apply(&history());
    assert_eq!(texts(&kept), ["sys", "h1", "a1"]);
}

#[test]
fn an_orphan_tool_result_is_never_the_first_kept_message() {
    let call = ToolCall::new("f", json!({}));
    let messages = vec![
        ChatMessage::human("q"),
        AiMessage::with_tool_calls("", vec![call.clone()]).into(),
        ToolMessage::new(&call.id, "r").into(),
        ToolMessage::new("unknown-call", "stray").into(),
        ChatMessage::human("next"),
    ];
    assert_eq!(texts(&Trim::last_messages(2).apply(&messages)), ["next"]);
    assert_eq!(texts(&Trim::last_messages(5).apply(&messages)).len(), 5);
}

#[test]
fn approximate_tokens_count_text_tool_calls_and_media() {
    assert_eq!(approximate_tokens(&ChatMessage::human("abcd")), 1 + 3);
    assert_eq!(approximate_tokens(&ChatMessage::human("abcde")), 2 + 3);
    let image = ChatMessage::human(vec![
        ContentPart::text("abcd"),
        ContentPart::image_url("https://x.test/a.png"),
    ]);
    assert_eq!(approximate_tokens(&image), 1 + 85 + 3);
    let call: ChatMessage =
        AiMessage::with_tool_calls("", vec![ToolCall::new("f", json!({"a": 1}))]).into();
    // "f" and `{"a":1}`: 8 characters, 2 tokens.
    assert_eq!(approximate_tokens(&call), 2 + 3);
}
