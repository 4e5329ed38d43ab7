//! Streaming a run to a browser: an axum server whose `GET /chat?thread=…&q=…` runs one turn
//! of a chat graph on that thread and answers with Server-Sent Events — each token as the
//! model node emits it (`event: custom`), each node's update (`event: update`), then the final
//! state (`event: end`). Threads are checkpointed to SQLite (`sse.db`, or `SSE_DB`); a browser
//! reads the stream with `new EventSource("/chat?thread=t1&q=hello")`.
//!
//! ```text
//! cargo run --example sse_server            # listens on 127.0.0.1:3000 (or PORT)
//! curl -N 'http://127.0.0.1:3000/chat?thread=t1&q=hello'
//! ```

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Query, State as Shared};
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use stategraph::sqlite::SqliteSaver;
use stategraph::{NodeContext, NodeResult, State, StreamMode};

#[derive(State, Clone, Debug, Default, Serialize, Deserialize)]
struct Chat {
    question: String,
    #[state(reducer = append)]
    answers: Vec<String>,
}

#[stategraph::graph(state = Chat)]
mod chat {
    use super::*;

    /// Stands in for a model call that streams its answer word by word.
    #[node]
    async fn respond(s: &Chat, ctx: &NodeContext) -> NodeResult<Chat> {
        let answer = format!("you asked: {} (turn {})", s.question, s.answers.len() + 1);
        for word in answer.split_inclusive(' ') {
            tokio::time::sleep(Duration::from_millis(5)).await;
            ctx.emit(word.to_owned()).await;
        }
        Ok(ChatUpdate::new().push_answers(answer))
    }

    edges! { START -> respond -> END; }
}

#[derive(Deserialize)]
struct Turn {
    thread: String,
    q: String,
}

/// One turn of `thread`, streamed as Server-Sent Events.
async fn turn(
    Shared(graph): Shared<Arc<chat::Compiled>>,
    Query(turn): Query<Turn>,
) -> impl IntoResponse {
    let input = ChatUpdate::new().question(turn.q);
    let events = graph
        .thread(turn.thread)
        .stream(input, StreamMode::CUSTOM | StreamMode::UPDATES)
        .sse()
        .map(Ok::<_, Infallible>);
    (
        [(header::CONTENT_TYPE, "text/event-stream")],
        Body::from_stream(events),
    )
}

/// The server's routes over `graph`.
fn app(graph: chat::Compiled) -> Router {
    Router::new()
        .route("/chat", get(turn))
        .with_state(Arc::new(graph))
}

async fn graph(db: &str) -> Result<chat::Compiled, Box<dyn std::error::Error>> {
    Ok(chat::graph()
        .checkpointer(SqliteSaver::open(db).await?)
        .compile()?)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let db = std::env::var("SSE_DB").unwrap_or_else(|_| "sse.db".to_owned());
    let port = std::env::var("PORT").unwrap_or_else(|_| "3000".to_owned());
    let listener = tokio::net::TcpListener::bind(format!("127.0.0.1:{port}")).await?;
    println!(
        "listening on http://{}/chat?thread=t1&q=hello",
        listener.local_addr()?
    );
    axum::serve(listener, app(graph(&db).await?)).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use futures::StreamExt;

    /// The messages of an SSE body: (event name, data as JSON).
    fn messages(body: &str) -> Vec<(String, serde_json::Value)> {
        body.split("\n\n")
            .filter(|m| !m.trim().is_empty())
            .map(|m| {
                let name = m.lines().find_map(|l| l.strip_prefix("event: ")).unwrap();
                let data = m.lines().find_map(|l| l.strip_prefix("data: ")).unwrap();
                (name.to_owned(), serde_json::from_str(data).unwrap())
            })
            .collect()
    }

    #[tokio::test]
    async fn a_browser_gets_the_tokens_as_they_come_then_the_final_state() {
        let dir = std::env::temp_dir().join(format!("sg-sse-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let db = dir.join("sse.db");
        let graph = super::graph(db.to_str().unwrap()).await.unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            axum::serve(listener, super::app(graph)).await.unwrap();
        });

        let client = reqwest::Client::new();
        for turn in 1..=2 {
            let response = client
                .get(format!("http://{address}/chat?thread=t1&q=tides"))
                .send()
                .await
                .unwrap();
            assert_eq!(
                response.headers()["content-type"].to_str().unwrap(),
                "text/event-stream"
            );
            // Read as it arrives: the first token comes before the run ends.
            let mut body = response.bytes_stream();
            let first = String::from_utf8(body.next().await.unwrap().unwrap().to_vec()).unwrap();
            assert!(first.starts_with("event: custom\n"), "{first}");
            let mut text = first;
            while let Some(chunk) = body.next().await {
                text.push_str(std::str::from_utf8(&chunk.unwrap()).unwrap());
            }
            let messages = messages(&text);
            let tokens: String = messages
                .iter()
                .filter(|(name, _)| name == "custom")
                .map(|(_, data)| data["data"].as_str().unwrap())
                .collect();
            let answer = format!("you asked: tides (turn {turn})");
            assert_eq!(tokens, answer);
            let update = messages.iter().find(|(name, _)| name == "update").unwrap();
            assert_eq!(update.1["node"], "respond");
            assert_eq!(update.1["data"]["answers"]["reduce"][0], answer.as_str());
            let (name, end) = messages.last().unwrap();
            assert_eq!(name, "end");
            assert_eq!(end["output"]["answers"].as_array().unwrap().len(), turn);
        }
        server.abort();
        std::fs::remove_dir_all(dir).unwrap();
    }
}
