//! Messages against LangChain itself (langchain-core, run by `tests/langchain/messages.py`):
//! every message LangChain writes is read and written back unchanged, and LangChain reads
//! every message stategraph writes into the same dict. Needs `python3` with `langchain-core`
//! (`.ci/run` installs it; `STATEGRAPH_PYTHON` names another interpreter); skipped with a
//! message when missing, unless `STATEGRAPH_REQUIRE_SERVICES` is set.

use std::io::Write;
use std::process::{Command, Stdio};

use serde_json::{Value, json};
use stategraph_agent::messages::{AiMessage, ChatMessage, ToolCall, ToolMessage, UsageMetadata};

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/langchain/messages.py");

fn python() -> Option<String> {
    let python = std::env::var("STATEGRAPH_PYTHON").unwrap_or_else(|_| "python3".into());
    let found = Command::new(&python)
        .args(["-c", "import langchain_core"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success());
    if found {
        return Some(python);
    }
    let why = format!(
        "{python} with langchain-core is not available (pip install langchain-core==1.8.3)"
    );
    assert!(
        std::env::var_os("STATEGRAPH_REQUIRE_SERVICES").is_none(),
        "{why} and STATEGRAPH_REQUIRE_SERVICES is set"
    );
    eprintln!("skipped: {why}");
    None
}

/// Runs the script in `mode`, feeding it `input`; its output, one JSON value per line.
fn langchain(python: &str, mode: &str, input: &str) -> Vec<Value> {
    let mut child = Command::new(python)
        .args([SCRIPT, mode])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "the LangChain script failed");
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

#[test]
fn langchain_messages_read_and_write_back_unchanged() {
    let Some(python) = python() else { return };
    let written = langchain(&python, "dump", "");
    assert!(written.len() >= 7, "LangChain wrote its samples");
    for value in written {
        let message: ChatMessage = serde_json::from_value(value.clone()).unwrap();
        assert_eq!(serde_json::to_value(&message).unwrap(), value);
    }
}

#[test]
fn langchain_reads_what_stategraph_writes() {
    let Some(python) = python() else { return };
    let call = ToolCall::new("search", json!({"query": "rust", "limit": 3}));
    let messages: Vec<ChatMessage> = vec![
        ChatMessage::system("Be brief."),
        serde_json::from_value(json!({"role": "user", "content": "hi"})).unwrap(),
        ChatMessage::human(vec![
            stategraph_agent::messages::ContentPart::text("see "),
            stategraph_agent::messages::ContentPart::image_url("https://x.test/a.png"),
        ])
        .with_name("ada"),
        AiMessage::with_tool_calls("looking", vec![call.clone()])
            .with_usage(UsageMetadata::new(12, 3))
            .into(),
        ToolMessage::new(&call.id, "2 results")
            .with_artifact(json!({"ids": [1, 2]}))
            .into(),
        ToolMessage::error("call_x", "timed out").into(),
        ChatMessage::ai("done"),
    ];
    let ours: Vec<Value> = messages
        .iter()
        .map(|m| serde_json::to_value(m).unwrap())
        .collect();
    let input: String = ours.iter().map(|v| format!("{v}\n")).collect();
    let theirs = langchain(&python, "check", &input);
    assert_eq!(theirs, ours);
}
