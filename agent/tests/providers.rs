//! The provider models over real HTTP: each test starts a server on 127.0.0.1 that answers with
//! a provider's response (`tests/recorded/`: OpenAI Chat Completions and Anthropic Messages
//! bodies and event streams, in the providers' documented wire format, tool-call deltas
//! included) and keeps each request it received, so the test checks both what the client sent
//! and what it made of the answer. Embedding models too (OpenAI's and Ollama's embedding
//! endpoints).

#![cfg(all(
    feature = "openai",
    feature = "anthropic",
    feature = "ollama",
    feature = "openai-compatible"
))]

use std::sync::{Arc, Mutex};

use futures::StreamExt;
use serde_json::{Value, json};
use stategraph_agent::messages::{AiMessage, ChatMessage, ToolCall, ToolMessage};
use stategraph_agent::model::{
    AiMessageChunk, ChatModel, ChatModelExt, ModelError, ToolChoice, ToolSpec,
};
use stategraph_agent::providers::Provider;
use stategraph_runtime::store::{Embed, StoreError};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const RECORDED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/recorded/");

/// A request the server received: its request line, headers (lower-cased names) and body.
#[derive(Debug, Clone)]
struct Received {
    line: String,
    headers: Vec<(String, String)>,
    body: Value,
}

impl Received {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Serves one answer per connection, in order: (status, content type, body).
async fn serve(answers: Vec<(u16, &'static str, String)>) -> (String, Arc<Mutex<Vec<Received>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/v1/", listener.local_addr().unwrap());
    let received = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&received);
    tokio::spawn(async move {
        for (status, content_type, answer) in answers {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut buffer = Vec::new();
            let mut chunk = [0u8; 8192];
            let (head_len, content_length) = loop {
                let n = socket.read(&mut chunk).await.unwrap();
                buffer.extend_from_slice(&chunk[..n]);
                if let Some(at) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
                    let head = String::from_utf8_lossy(&buffer[..at]).to_lowercase();
                    let length = head
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length:"))
                        .map_or(0, |v| v.trim().parse().unwrap());
                    break (at + 4, length);
                }
            };
            while buffer.len() < head_len + content_length {
                let n = socket.read(&mut chunk).await.unwrap();
                buffer.extend_from_slice(&chunk[..n]);
            }
            let head = String::from_utf8_lossy(&buffer[..head_len - 4]).to_string();
            let mut lines = head.lines();
            let line = lines.next().unwrap().to_owned();
            let headers = lines
                .filter_map(|l| l.split_once(':'))
                .map(|(n, v)| (n.trim().to_lowercase(), v.trim().to_owned()))
                .collect();
            let body = serde_json::from_slice(&buffer[head_len..]).unwrap_or(Value::Null);
            log.lock().unwrap().push(Received {
                line,
                headers,
                body,
            });
            let response = format!(
                "HTTP/1.1 {status} X\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\n\
                 connection: close\r\n\r\n{answer}",
                answer.len()
            );
            socket.write_all(response.as_bytes()).await.unwrap();
            socket.shutdown().await.ok();
        }
    });
    (url, received)
}

fn recorded(name: &str) -> String {
    std::fs::read_to_string(format!("{RECORDED}{name}")).unwrap()
}

fn search_tool() -> ToolSpec {
    ToolSpec::new(
        "search",
        "Searches the web.",
        json!({"type": "object", "properties": {"query": {"type": "string"}}, "required": ["query"]}),
    )
}

async fn gathered(model: &impl ChatModel, messages: &[ChatMessage]) -> (AiMessage, usize) {
    let mut stream = model.stream(messages).await.unwrap();
    let mut whole = AiMessageChunk::default();
    let mut pieces = 0;
    while let Some(piece) = stream.next().await {
        whole += piece.unwrap();
        pieces += 1;
    }
    (whole.into_message(), pieces)
}

#[tokio::test]
async fn openai_calls_tools_and_streams_tool_call_deltas() {
    let (url, received) = serve(vec![
        (200, "application/json", recorded("openai_tool_call.json")),
        (200, "text/event-stream", recorded("openai_stream.sse")),
    ])
    .await;
    let model = Provider::openai("gpt-4o-mini")
        .base_url(&url)
        .api_key("sk-test")
        .build()
        .unwrap()
        .bind_tools([search_tool()])
        .tool_choice(ToolChoice::Required);
    let earlier = ToolCall::new("search", json!({"query": "old"})).with_id("call_old");
    let conversation = vec![
        ChatMessage::system("Be brief."),
        ChatMessage::human("What is new in Rust?"),
        AiMessage::with_tool_calls("", vec![earlier]).into(),
        ToolMessage::new("call_old", "nothing new")
            .with_artifact(json!({"secret": "kept out of the request"}))
            .into(),
    ];
    let reply = model.invoke(&conversation).await.unwrap();
    assert_eq!(reply.tool_calls.len(), 1);
    assert_eq!(reply.tool_calls[0].id, "call_abc");
    assert_eq!(reply.tool_calls[0].args["query"], "rust");
    let usage = reply.usage_metadata.clone().unwrap();
    assert_eq!(
        (usage.input_tokens, usage.output_tokens, usage.total_tokens),
        (52, 15, 67)
    );
    assert_eq!(usage.input_token_details["cache_read"], 8);

    let sent = received.lock().unwrap()[0].clone();
    assert_eq!(sent.line, "POST /v1/chat/completions HTTP/1.1");
    assert_eq!(sent.header("authorization"), Some("Bearer sk-test"));
    assert_eq!(sent.body["model"], "gpt-4o-mini");
    assert_eq!(sent.body["tools"][0]["function"]["name"], "search");
    assert_eq!(sent.body["tool_choice"], "required");
    let text = sent.body.to_string();
    assert!(text.contains("nothing new") && !text.contains("kept out of the request"));

    let (streamed, pieces) = gathered(&model, &conversation).await;
    assert!(
        pieces >= 6,
        "text and arguments arrive in pieces ({pieces})"
    );
    assert_eq!(streamed.text(), "Let me check.");
    let calls: Vec<(&str, &str, Value)> = streamed
        .tool_calls
        .iter()
        .map(|c| {
            (
                c.id.as_str(),
                c.name.as_str(),
                Value::Object(c.args.clone()),
            )
        })
        .collect();
    assert_eq!(
        calls,
        [
            ("call_1", "search", json!({"query": "rust"})),
            ("call_2", "fetch", json!({"url": "https://x.test"})),
        ]
    );
    assert_eq!(streamed.usage_metadata.unwrap().total_tokens, 50);
    assert_eq!(received.lock().unwrap()[1].body["stream"], true);
}

#[tokio::test]
async fn anthropic_calls_tools_and_streams_input_json_deltas() {
    let (url, received) = serve(vec![
        (
            200,
            "application/json",
            recorded("anthropic_tool_call.json"),
        ),
        (200, "text/event-stream", recorded("anthropic_stream.sse")),
    ])
    .await;
    let model = Provider::anthropic("claude-sonnet-4-5")
        .base_url(&url)
        .api_key("ak-test")
        .build()
        .unwrap()
        .bind_tools([search_tool()]);
    let question = [
        ChatMessage::system("Be brief."),
        ChatMessage::human("Rust news?"),
    ];
    let reply = model.invoke(&question).await.unwrap();
    assert_eq!(reply.text(), "Checking.");
    assert_eq!(reply.tool_calls[0].id, "toolu_01");
    assert_eq!(reply.tool_calls[0].args["query"], "rust");
    let sent = received.lock().unwrap()[0].clone();
    assert_eq!(sent.line, "POST /v1/messages HTTP/1.1");
    assert_eq!(sent.header("x-api-key"), Some("ak-test"));
    assert_eq!(sent.body["system"], "Be brief.");
    assert_eq!(sent.body["tools"][0]["name"], "search");

    let (streamed, _) = gathered(&model, &question).await;
    assert_eq!(streamed.text(), "Hello there.");
    assert_eq!(streamed.tool_calls[0].id, "toolu_02");
    assert_eq!(streamed.tool_calls[0].args["query"], "rust");
}

#[tokio::test]
async fn an_openai_compatible_server_without_a_key_and_a_provider_error() {
    let huge = "e".repeat(100_000);
    let (url, received) = serve(vec![
        (200, "application/json", recorded("openai_tool_call.json")),
        (
            401,
            "application/json",
            json!({"error": {"message": huge, "type": "invalid_request_error"}}).to_string(),
        ),
    ])
    .await;
    let model = Provider::openai_compatible(&url, "local-model")
        .build()
        .unwrap();
    let reply = model.invoke(&[ChatMessage::human("hi")]).await.unwrap();
    assert_eq!(reply.tool_calls[0].name, "search");
    assert_eq!(received.lock().unwrap()[0].body["model"], "local-model");

    let error = model.invoke(&[ChatMessage::human("hi")]).await.unwrap_err();
    let ModelError::Provider(message) = &error else {
        panic!("a provider error: {error:?}")
    };
    assert!(
        message.len() < 1_200,
        "the provider's text is cut: {} bytes",
        message.len()
    );
}

#[cfg(feature = "ollama")]
#[tokio::test]
async fn ollama_speaks_its_own_chat_api() {
    let (url, received) = serve(vec![
        (200, "application/json", recorded("ollama_tool_call.json")),
        (
            200,
            "application/x-ndjson",
            recorded("ollama_stream.ndjson"),
        ),
    ])
    .await;
    let model = Provider::ollama("llama3.2")
        .base_url(url.trim_end_matches("v1/"))
        .build()
        .unwrap()
        .bind_tools([search_tool()]);
    let reply = model
        .invoke(&[ChatMessage::human("Rust news?")])
        .await
        .unwrap();
    assert_eq!(reply.tool_calls[0].name, "search");
    assert_eq!(reply.tool_calls[0].args["query"], "rust");
    assert!(
        !reply.tool_calls[0].id.is_empty(),
        "a call without an id gets one"
    );
    let sent = received.lock().unwrap()[0].clone();
    assert_eq!(sent.line, "POST /api/chat HTTP/1.1");
    assert_eq!(sent.body["model"], "llama3.2");

    let (streamed, pieces) = gathered(&model, &[ChatMessage::human("hi")]).await;
    assert_eq!(streamed.text(), "Hello there.");
    assert!(pieces >= 3);
}

#[tokio::test]
async fn openai_embeddings_give_one_vector_per_text_in_order() {
    let (url, received) = serve(vec![(
        200,
        "application/json",
        recorded("openai_embeddings.json"),
    )])
    .await;
    let embeddings = Provider::openai("text-embedding-3-small")
        .base_url(&url)
        .api_key("sk-test")
        .embeddings()
        .unwrap();
    let texts = vec!["likes tea".to_owned(), "lives in Oslo".to_owned()];
    let vectors = embeddings.embed(&texts).await.unwrap();
    assert_eq!(vectors, vec![vec![0.25, -0.5, 0.75], vec![1.0, 0.0, -1.0]]);
    let request = received.lock().unwrap()[0].clone();
    assert!(
        request.line.starts_with("POST /v1/embeddings"),
        "{}",
        request.line
    );
    assert_eq!(request.body["model"], "text-embedding-3-small");
    assert_eq!(request.body["input"], json!(["likes tea", "lives in Oslo"]));
    assert_eq!(request.header("authorization"), Some("Bearer sk-test"));
    // No texts, no request.
    assert!(embeddings.embed(&[]).await.unwrap().is_empty());
}

#[tokio::test]
async fn ollama_embeddings_and_a_model_that_returns_too_few_vectors() {
    let (url, _) = serve(vec![(
        200,
        "application/json",
        recorded("ollama_embed.json"),
    )])
    .await;
    let embeddings = Provider::ollama("nomic-embed-text")
        .base_url(&url)
        .embeddings()
        .unwrap();
    let texts = vec!["one".to_owned(), "two".to_owned()];
    let error = embeddings.embed(&texts).await.unwrap_err();
    assert!(
        matches!(&error, StoreError::Embed(m) if m.contains("asked for 2 vectors, the model returned 1")),
        "{error}"
    );
}
