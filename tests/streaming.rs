//! Streaming: a run's events as they happen, by mode — values, updates, custom (tokens),
//! tasks, checkpoints, interrupts — from subgraphs too when asked, through a bounded buffer; a
//! dropped stream stops the run at a step boundary with its state checkpointed; the final state
//! is `invoke`'s and nothing extra is stored.

mod support;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use serde::{Deserialize, Serialize};
use stategraph::{
    Checkpointer, Event, EventData, GraphError, ListQuery, MemorySaver, NodeContext, NodeResult,
    Resume, State, StreamMode, StreamOptions,
};

/// What the nodes are told, and what they did.
#[derive(Default)]
struct Desk {
    runs: Mutex<BTreeMap<String, usize>>,
    /// Tokens `speak` emits.
    tokens: usize,
    /// Whether `speak` asks before speaking.
    ask: bool,
    /// Tokens emitted so far, over every node.
    emitted: AtomicUsize,
}

impl Desk {
    fn ran(&self, node: &str) {
        *self
            .runs
            .lock()
            .unwrap()
            .entry(node.to_owned())
            .or_default() += 1;
    }
}

#[derive(State, Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
struct Talk {
    items: u32,
    #[state(reducer = append)]
    log: Vec<String>,
    loops: u32,
}

/// The innermost graph: a node that emits tokens, and may ask first.
#[stategraph::graph(state = Talk, deps = Desk)]
mod voice {
    use super::*;

    #[node]
    async fn speak(_: &Talk, ctx: &NodeContext<Desk>) -> NodeResult<Talk> {
        let desk = ctx.deps();
        desk.ran("speak");
        if desk.ask {
            let _: bool = ctx.interrupt("speak?").await?;
        }
        for n in 0..desk.tokens {
            ctx.emit(format!("tok{n}")).await;
            desk.emitted.fetch_add(1, Ordering::SeqCst);
        }
        Ok(TalkUpdate::new().push_log("spoke".to_owned()))
    }

    edges! { START -> speak -> END; }
}

/// The middle graph: runs the voice as a subgraph.
#[stategraph::graph(state = Talk, deps = Desk)]
mod speech {
    use super::*;

    #[subgraph]
    type voice = super::voice::Graph;

    edges! { START -> voice -> END; }
}

/// The outer graph: a fan-out of `items` tasks, then the speech subgraph (three levels down to
/// `speak`).
#[stategraph::graph(state = Talk, deps = Desk)]
mod outer {
    use super::*;

    #[node]
    async fn plan(_: &Talk, ctx: &NodeContext<Desk>) -> NodeResult<Talk> {
        ctx.deps().ran("plan");
        Ok(TalkUpdate::new().push_log("plan".to_owned()))
    }

    #[send]
    fn per_item(s: &Talk) -> Vec<u32> {
        (0..s.items).collect()
    }

    #[node]
    async fn work(item: &u32, ctx: &NodeContext<Desk>) -> NodeResult<Talk> {
        ctx.deps().ran("work");
        // Later items finish first; updates still come in send order.
        tokio::time::sleep(Duration::from_millis(u64::from(3 - item.min(&3)) * 5)).await;
        Ok(TalkUpdate::new().push_log(format!("work {item}")))
    }

    #[subgraph]
    type talk = super::speech::Graph;

    edges! {
        START -> plan;
        plan -> per_item => work;
        work -> talk -> END;
    }
}

fn input() -> TalkUpdate {
    TalkUpdate::new().items(3)
}

fn desk(tokens: usize, ask: bool) -> Arc<Desk> {
    Arc::new(Desk {
        tokens,
        ask,
        ..Desk::default()
    })
}

async fn collect(
    mut stream: stategraph::RunStream<Talk>,
) -> (Vec<Event>, Result<Talk, GraphError>) {
    let mut events = Vec::new();
    while let Some(item) = stream.next().await {
        match item {
            Ok(event) => events.push(event),
            Err(error) => return (events, Err(error)),
        }
    }
    (
        events,
        stream
            .output()
            .await
            .and_then(stategraph::Outcome::into_finished),
    )
}

/// A line per event, for comparing sequences: `ns-depth kind node`.
fn outline(events: &[Event]) -> Vec<String> {
    events
        .iter()
        .map(|e| {
            let depth = if e.ns.is_empty() {
                0
            } else {
                e.ns.matches('|').count() + 1
            };
            let kind = match &e.data {
                EventData::Values(_) => "values",
                EventData::Update(_) => "update",
                EventData::Custom(_) => "custom",
                EventData::TaskStarted { .. } => "start",
                EventData::TaskFinished { .. } => "finish",
                EventData::Retry { .. } => "retry",
                EventData::Checkpoint(_) => "checkpoint",
                EventData::Interrupt(_) => "interrupt",
                other => panic!("an event this test does not know: {other:?}"),
            };
            format!("{depth} {kind} {}", e.node.as_deref().unwrap_or("-"))
        })
        .collect()
}

#[tokio::test]
async fn updates_and_values_come_in_step_order_and_the_output_is_invokes() {
    let graph = outer::graph(desk(2, false))
        .checkpointer(MemorySaver::new())
        .compile()
        .unwrap();
    let modes = StreamMode::VALUES | StreamMode::UPDATES;
    let (events, output) = collect(graph.thread("ordered").stream(input(), modes)).await;
    let output = output.unwrap();
    assert_eq!(
        outline(&events),
        [
            "0 values -",
            "0 update plan",
            "0 values -",
            "0 update work",
            "0 update work",
            "0 update work",
            "0 values -",
            "0 update talk",
            "0 values -",
        ]
    );
    // Updates are typed, in send order; the last values are the output.
    let works: Vec<Vec<String>> = events
        .iter()
        .filter(|e| e.node.as_deref() == Some("work"))
        .map(|e| match &e.data {
            EventData::Update(update) => {
                update.get::<TalkUpdate>().unwrap().to_owned().log_writes()
            }
            _ => unreachable!(),
        })
        .collect();
    assert_eq!(works, [["work 0"], ["work 1"], ["work 2"]]);
    let EventData::Values(last) = &events.last().unwrap().data else {
        panic!("values last");
    };
    assert_eq!(last.get::<Talk>(), Some(&output));
    let invoked = outer::graph(desk(2, false))
        .checkpointer(MemorySaver::new())
        .compile()
        .unwrap()
        .thread("invoked")
        .invoke(input())
        .await
        .and_then(stategraph::Outcome::into_finished)
        .unwrap();
    assert_eq!(output, invoked);
    // An update's JSON holds the channels it writes.
    let plan = events
        .iter()
        .find(|e| e.node.as_deref() == Some("plan"))
        .unwrap();
    let EventData::Update(update) = &plan.data else {
        panic!("an update");
    };
    assert_eq!(
        update.to_json().unwrap(),
        serde_json::json!({"log": {"reduce": ["plan"]}})
    );
}

/// The log entries an update appends.
trait LogWrites {
    fn log_writes(self) -> Vec<String>;
}

impl LogWrites for TalkUpdate {
    fn log_writes(self) -> Vec<String> {
        let json = stategraph::StateUpdate::encode_write(&self, 1).unwrap();
        let write: serde_json::Value = serde_json::from_slice(&json).unwrap();
        serde_json::from_value(write["reduce"].clone()).unwrap()
    }
}

#[tokio::test]
async fn every_mode_with_subgraphs_reports_tasks_checkpoints_tokens_and_the_question() {
    let saver: Arc<dyn Checkpointer> = Arc::new(MemorySaver::new());
    let graph = outer::graph(desk(2, true))
        .checkpointer(saver.clone())
        .compile()
        .unwrap();
    let thread = graph.thread("everything");
    let options = StreamOptions::new(StreamMode::ALL).subgraphs();
    let (events, output) = collect(thread.stream(input(), options)).await;
    let Err(GraphError::Interrupted { interrupts, .. }) = output else {
        panic!("paused: {output:?}");
    };
    let lines = outline(&events);
    // The three sent tasks start and finish, each once.
    assert_eq!(lines.iter().filter(|l| *l == "0 start work").count(), 3);
    assert_eq!(lines.iter().filter(|l| *l == "0 finish work").count(), 3);
    // The question is raised three levels down, then by each enclosing task in turn.
    let asked: Vec<&str> = lines
        .iter()
        .filter(|l| l.contains("interrupt"))
        .map(String::as_str)
        .collect();
    assert_eq!(
        asked,
        ["2 interrupt speak", "1 interrupt voice", "0 interrupt talk"]
    );
    let ids: Vec<_> = events
        .iter()
        .filter_map(|e| match &e.data {
            EventData::Interrupt(i) => Some(i.id),
            _ => None,
        })
        .collect();
    assert!(
        ids.iter().all(|id| *id == interrupts[0].id),
        "one question, one id"
    );
    // Every checkpoint written is reported, at its level: as many as the saver holds.
    let stored = saver
        .list(&ListQuery::thread("everything".into()))
        .await
        .unwrap()
        .len();
    let reported = lines.iter().filter(|l| l.contains("checkpoint")).count();
    assert_eq!(reported, stored);

    // Answered: the tokens, three levels down, in order.
    let resumed = thread
        .resume_with(Resume::value(true))
        .stream(StreamOptions::new(StreamMode::CUSTOM).subgraphs());
    let tokens: Vec<String> = resumed
        .custom::<String>(voice::Node::Speak)
        .map(|t| t.unwrap().value)
        .collect()
        .await;
    assert_eq!(tokens, ["tok0", "tok1"]);
    let state = thread.state().await.unwrap().unwrap();
    assert!(state.next.is_empty());
    assert_eq!(state.values.log.last().map(String::as_str), Some("spoke"));
}

/// A loop of `LOOPS` steps, each emitting one token.
const LOOPS: u32 = 30;

#[stategraph::graph(state = Talk, deps = Desk)]
mod looping {
    use super::*;

    #[node]
    async fn tick(s: &Talk, ctx: &NodeContext<Desk>) -> NodeResult<Talk> {
        ctx.deps().ran(&format!("tick {}", s.loops));
        tokio::time::sleep(Duration::from_millis(2)).await;
        ctx.emit(s.loops).await;
        Ok(TalkUpdate::new().loops(s.loops + 1))
    }

    pub(super) enum Again {
        Yes,
        No,
    }

    #[route]
    fn again(s: &Talk) -> Again {
        if s.loops < LOOPS {
            Again::Yes
        } else {
            Again::No
        }
    }

    edges! {
        START -> tick;
        tick -> again { Yes => tick, No => END };
    }
}

/// Waits until the thread's latest checkpoint stays the same for 100 ms: the run stopped.
async fn settled(thread: &stategraph::Thread<looping::Graph>) {
    let mut last = None;
    loop {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let now = thread.state().await.unwrap().map(|s| s.checkpoint_id);
        if now == last {
            return;
        }
        last = now;
    }
}

#[tokio::test]
async fn a_dropped_stream_stops_the_run_at_a_step_boundary_and_resume_finishes_it() {
    let desk = desk(0, false);
    let graph = looping::graph(desk.clone())
        .checkpointer(MemorySaver::new())
        .compile()
        .unwrap();
    let thread = graph.thread("dropped");
    let mut stream = thread.stream(
        TalkUpdate::new(),
        StreamOptions::new(StreamMode::CUSTOM).buffer(1),
    );
    let mut seen = Vec::new();
    while let Some(event) = stream.next().await {
        if let EventData::Custom(n) = event.unwrap().data {
            seen.push(*n.get::<u32>().unwrap());
            if seen.len() == 5 {
                break;
            }
        }
    }
    drop(stream);
    settled(&thread).await;
    let stopped = thread.state().await.unwrap().unwrap();
    assert!(!stopped.next.is_empty(), "stopped before the end");
    assert!(stopped.values.loops < LOOPS);
    let done = thread
        .resume()
        .await
        .and_then(stategraph::Outcome::into_finished)
        .unwrap();
    assert_eq!(done.loops, LOOPS);
    // Each step ran once: the one in flight when the stream was dropped was saved.
    let runs = desk.runs.lock().unwrap();
    for n in 0..LOOPS {
        assert_eq!(
            runs.get(&format!("tick {n}")),
            Some(&1),
            "tick {n}: {runs:?}"
        );
    }
}

#[tokio::test]
async fn a_slow_consumer_slows_the_run_instead_of_buffering_without_bound() {
    const TOKENS: usize = 2_000;
    const BUFFER: usize = 4;
    let desk = desk(TOKENS, false);
    let graph = voice::graph(desk.clone()).compile().unwrap();
    let stream = graph.stream(
        TalkUpdate::new(),
        StreamOptions::new(StreamMode::CUSTOM).buffer(BUFFER),
    );
    let mut tokens = std::pin::pin!(stream.custom::<String>(voice::Node::Speak));
    let mut read = 0;
    let mut most_ahead = 0;
    while let Some(token) = tokens.next().await {
        assert_eq!(token.unwrap().value, format!("tok{read}"));
        read += 1;
        if read % 100 == 0 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        let ahead = desk.emitted.load(Ordering::SeqCst).saturating_sub(read);
        most_ahead = most_ahead.max(ahead);
    }
    assert_eq!(read, TOKENS);
    // The node ran at most the buffer (and the token in hand) ahead of the reader.
    assert!(
        most_ahead <= BUFFER + 1,
        "the run got {most_ahead} tokens ahead"
    );
}

#[tokio::test]
async fn a_graph_without_a_checkpointer_streams_too_and_subgraphs_stay_out_unless_asked() {
    let graph = outer::graph(desk(3, false)).compile().unwrap();
    let (events, output) = collect(graph.stream(input(), StreamMode::ALL)).await;
    let output = output.unwrap();
    assert_eq!(output, graph.invoke(input()).await.unwrap());
    assert!(
        events.iter().all(|e| e.ns.is_empty()),
        "no subgraph events unless asked"
    );
    assert!(events.iter().all(|e| e.checkpoint_id.is_none()));
    assert!(
        !events
            .iter()
            .any(|e| matches!(e.data, EventData::Checkpoint(_)))
    );
    // Asked, the tokens come with their namespace, two calls down.
    let options = StreamOptions::new(StreamMode::CUSTOM).subgraphs();
    let (events, _) = collect(graph.stream(input(), options)).await;
    assert_eq!(events.len(), 3);
    for event in &events {
        let levels: Vec<&str> = event.ns.split('|').collect();
        assert_eq!(levels.len(), 2, "{}", event.ns);
        assert!(levels[0].starts_with("talk") && levels[1].starts_with("voice"));
    }
}

#[tokio::test]
async fn streaming_stores_what_invoke_stores() {
    let saver: Arc<dyn Checkpointer> = Arc::new(MemorySaver::new());
    let graph = outer::graph(desk(2, false))
        .checkpointer(saver.clone())
        .compile()
        .unwrap();
    let streamed = graph
        .thread("streamed")
        .stream(input(), StreamOptions::new(StreamMode::ALL).subgraphs())
        .output()
        .await
        .and_then(stategraph::Outcome::into_finished)
        .unwrap();
    let invoked = graph
        .thread("invoked")
        .invoke(input())
        .await
        .and_then(stategraph::Outcome::into_finished)
        .unwrap();
    assert_eq!(streamed, invoked);
    let count = |id: &str| {
        let saver = saver.clone();
        let query = ListQuery::thread(id.into());
        async move {
            let all = saver.list(&query).await.unwrap();
            let mut by_ns: BTreeMap<usize, usize> = BTreeMap::new();
            for t in all {
                *by_ns
                    .entry(
                        t.checkpoint.ns.matches('|').count()
                            + usize::from(!t.checkpoint.ns.is_empty()),
                    )
                    .or_default() += 1;
            }
            by_ns
        }
    };
    assert_eq!(count("streamed").await, count("invoked").await);
}

#[tokio::test]
async fn a_streamed_resume_starts_with_the_state_it_resumes_from() {
    let graph = voice::graph(desk(1, true))
        .checkpointer(MemorySaver::new())
        .compile()
        .unwrap();
    let thread = graph.thread("resumed");
    thread
        .invoke(TalkUpdate::new())
        .await
        .and_then(stategraph::Outcome::into_finished)
        .unwrap_err();
    let (events, output) = collect(
        thread
            .resume_with(Resume::value(true))
            .stream(StreamMode::VALUES),
    )
    .await;
    assert_eq!(output.unwrap().log, ["spoke"]);
    let values: Vec<Vec<String>> = events
        .iter()
        .map(|e| match &e.data {
            EventData::Values(v) => v.get::<Talk>().unwrap().log.clone(),
            _ => panic!("values only"),
        })
        .collect();
    assert_eq!(values, [vec![], vec!["spoke".to_owned()]]);
    // Nothing left to run: a streamed resume of a finished thread says so.
    let (_, output) = collect(thread.stream_resume(StreamMode::VALUES)).await;
    assert!(output.unwrap().log == ["spoke"]);
}

#[stategraph::graph(state = Talk, deps = Desk)]
mod flaky {
    use super::*;

    #[node(retry = stategraph::RetryPolicy::attempts(3).backoff(Duration::ZERO, Duration::ZERO))]
    async fn fetch(_: &Talk, ctx: &NodeContext<Desk>) -> NodeResult<Talk> {
        let attempt = ctx.deps().emitted.fetch_add(1, Ordering::SeqCst);
        if attempt < 2 {
            return Err(format!("attempt {attempt} timed out").into());
        }
        Ok(TalkUpdate::new().push_log("fetched".to_owned()))
    }

    edges! { START -> fetch -> END; }
}

#[tokio::test]
async fn tasks_mode_reports_each_retried_attempt_and_the_duration() {
    let graph = flaky::graph(desk(0, false)).compile().unwrap();
    let (events, output) = collect(graph.stream(TalkUpdate::new(), StreamMode::TASKS)).await;
    assert_eq!(output.unwrap().log, ["fetched"]);
    let kinds: Vec<String> = events
        .iter()
        .map(|e| match &e.data {
            EventData::TaskStarted { .. } => "start".to_owned(),
            EventData::Retry { attempt, error } => format!("retry {attempt}: {error}"),
            EventData::TaskFinished {
                error, duration, ..
            } => {
                assert!(*duration > Duration::ZERO);
                format!("finish {error:?}")
            }
            other => panic!("tasks only: {other:?}"),
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "start",
            "retry 1: attempt 0 timed out",
            "retry 2: attempt 1 timed out",
            "finish None"
        ]
    );
}

#[tokio::test]
async fn server_sent_events_carry_each_event_then_the_end_or_the_error() {
    let graph = voice::graph(desk(2, false)).compile().unwrap();
    let lines: Vec<String> = graph
        .stream(TalkUpdate::new(), StreamMode::CUSTOM | StreamMode::UPDATES)
        .sse()
        .collect()
        .await;
    assert_eq!(lines.len(), 4, "{lines:?}");
    assert!(
        lines[0].starts_with("event: custom\ndata: {"),
        "{}",
        lines[0]
    );
    assert!(lines[0].ends_with("}\n\n"));
    let data: serde_json::Value = serde_json::from_str(
        lines[0]
            .lines()
            .nth(1)
            .unwrap()
            .strip_prefix("data: ")
            .unwrap(),
    )
    .unwrap();
    assert_eq!(data["data"], "tok0");
    assert_eq!(data["node"], "speak");
    assert_eq!(data["ns"], "");
    assert!(lines[2].starts_with("event: update\n"));
    assert!(lines[3].starts_with("event: end\ndata: {"), "{}", lines[3]);
    let end: serde_json::Value = serde_json::from_str(
        lines[3]
            .lines()
            .nth(1)
            .unwrap()
            .strip_prefix("data: ")
            .unwrap(),
    )
    .unwrap();
    assert_eq!(end["output"]["log"], serde_json::json!(["spoke"]));
    assert_eq!(end["interrupts"], serde_json::json!([]), "it finished");

    // A question without a checkpointer fails the run: the last message says why.
    let graph = voice::graph(desk(0, true)).compile().unwrap();
    let lines: Vec<String> = graph
        .stream(TalkUpdate::new(), StreamMode::CUSTOM)
        .sse()
        .collect()
        .await;
    let last = lines.last().unwrap();
    assert!(last.starts_with("event: error\n"), "{last}");
    assert!(last.contains("interrupts need a checkpointer"), "{last}");

    // With one, the run pauses: the question, then `end` with the state and the question.
    let graph = voice::graph(desk(0, true))
        .checkpointer(MemorySaver::new())
        .compile()
        .unwrap();
    let lines: Vec<String> = graph
        .thread("sse-paused")
        .stream(TalkUpdate::new(), StreamMode::INTERRUPTS)
        .sse()
        .collect()
        .await;
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(lines[0].starts_with("event: interrupt\n"), "{}", lines[0]);
    let end: serde_json::Value = serde_json::from_str(
        lines[1]
            .lines()
            .nth(1)
            .unwrap()
            .strip_prefix("data: ")
            .unwrap(),
    )
    .unwrap();
    assert!(lines[1].starts_with("event: end\n"), "{}", lines[1]);
    assert_eq!(end["interrupts"][0]["payload"], "speak?");
    assert_eq!(end["interrupts"][0]["node"], "speak");
    assert_eq!(end["output"]["log"], serde_json::json!([]));
}

#[tokio::test]
async fn every_mode_streams_the_same_run_on_every_backend() {
    let dir = std::env::temp_dir().join(format!("sg-streaming-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let savers = support::every_saver(&dir, "streaming")
        .await
        .unwrap_or_else(|| vec![("memory", Arc::new(MemorySaver::new()))]);
    let run = stategraph::CheckpointId::new();
    for (backend, saver) in savers {
        let graph = outer::graph(desk(2, false))
            .checkpointer(saver.clone())
            .compile()
            .unwrap();
        let id = format!("stream-{backend}-{run}");
        let options = StreamOptions::new(StreamMode::ALL).subgraphs();
        let (events, output) = collect(graph.thread(id.as_str()).stream(input(), options)).await;
        let output = output.unwrap();
        assert_eq!(
            output.log.last().map(String::as_str),
            Some("spoke"),
            "{backend}"
        );
        // Every checkpoint stored, at every level, was reported once, with its id.
        let stored = saver
            .list(&ListQuery::thread(id.as_str().into()))
            .await
            .unwrap();
        let mut reported: Vec<_> = events
            .iter()
            .filter(|e| matches!(e.data, EventData::Checkpoint(_)))
            .map(|e| e.checkpoint_id.unwrap())
            .collect();
        let mut ids: Vec<_> = stored.iter().map(|t| t.checkpoint.id).collect();
        reported.sort();
        ids.sort();
        assert_eq!(reported, ids, "{backend}");
        // The tokens, two calls down, and the last values are the output.
        let tokens: Vec<&str> = events
            .iter()
            .filter_map(|e| match &e.data {
                EventData::Custom(t) => t.get::<String>().map(String::as_str),
                _ => None,
            })
            .collect();
        assert_eq!(tokens, ["tok0", "tok1"], "{backend}");
        let last_values = events
            .iter()
            .rev()
            .find_map(|e| match &e.data {
                EventData::Values(v) if e.ns.is_empty() => v.get::<Talk>().cloned(),
                _ => None,
            })
            .unwrap();
        assert_eq!(last_values, output, "{backend}");
        saver.delete_thread(&id.as_str().into()).await.unwrap();
    }
    std::fs::remove_dir_all(dir).unwrap();
}

/// A step at a time, for the order test: tokens, then a question.
#[stategraph::graph(state = Talk)]
mod steps {
    use super::*;

    #[node]
    async fn speak(_: &Talk, ctx: &NodeContext) -> NodeResult<Talk> {
        for token in ["a", "b"] {
            ctx.emit(token.to_owned()).await;
        }
        Ok(TalkUpdate::new().push_log("spoke".to_owned()))
    }

    #[node]
    async fn ask(_: &Talk, ctx: &NodeContext) -> NodeResult<Talk> {
        let _: bool = ctx.interrupt("go on?").await?;
        Ok(TalkUpdate::new().push_log("asked".to_owned()))
    }

    edges! { START -> speak -> ask -> END; }
}

/// Where an event comes in a step: task start, custom events, task finish, update, checkpoint,
/// values; a question last.
fn rank(data: &EventData) -> u8 {
    match data {
        EventData::TaskStarted { .. } => 0,
        EventData::Custom(_) | EventData::Retry { .. } => 1,
        EventData::TaskFinished { .. } => 2,
        EventData::Update(_) => 3,
        EventData::Checkpoint(_) => 4,
        EventData::Values(_) => 5,
        EventData::Interrupt(_) => 6,
        other => panic!("an event the order test does not know: {other:?}"),
    }
}

fn mode_of(data: &EventData) -> StreamMode {
    match data {
        EventData::Values(_) => StreamMode::VALUES,
        EventData::Update(_) => StreamMode::UPDATES,
        EventData::Custom(_) => StreamMode::CUSTOM,
        EventData::TaskStarted { .. }
        | EventData::TaskFinished { .. }
        | EventData::Retry { .. } => StreamMode::TASKS,
        EventData::Checkpoint(_) => StreamMode::CHECKPOINTS,
        EventData::Interrupt(_) => StreamMode::INTERRUPTS,
        other => panic!("an event this test does not know: {other:?}"),
    }
}

/// Every combination of the six modes, in Sync and Async durability: within each step the
/// events come as task start, custom events, task finish, update, checkpoint, values (a
/// question last), and a combination's events are exactly the full sequence's events of its
/// modes, in the same order.
#[tokio::test]
async fn every_mode_combination_reports_a_steps_events_in_one_order() {
    let all = [
        StreamMode::VALUES,
        StreamMode::UPDATES,
        StreamMode::CUSTOM,
        StreamMode::TASKS,
        StreamMode::CHECKPOINTS,
        StreamMode::INTERRUPTS,
    ];
    for durability in [stategraph::Durability::Sync, stategraph::Durability::Async] {
        let graph = steps::graph()
            .checkpointer(MemorySaver::new())
            .durability(durability)
            .compile()
            .unwrap();
        let full_modes = all.iter().fold(StreamMode::VALUES, |m, &n| m | n);
        let (full, _) = collect(graph.thread("full").stream(TalkUpdate::new(), full_modes)).await;
        let mut by_step: BTreeMap<i64, Vec<u8>> = BTreeMap::new();
        for event in &full {
            by_step
                .entry(event.step)
                .or_default()
                .push(rank(&event.data));
        }
        for (step, ranks) in &by_step {
            assert!(
                ranks.windows(2).all(|w| w[0] <= w[1]),
                "{durability:?}, step {step}: {:?}",
                outline(&full)
            );
        }
        assert!(
            outline(&full).contains(&"0 checkpoint -".to_owned()),
            "{:?}",
            outline(&full)
        );
        for mask in 1u8..64 {
            let modes = all
                .iter()
                .enumerate()
                .filter(|(bit, _)| mask & (1 << bit) != 0)
                .fold(None, |m: Option<StreamMode>, (_, &n)| {
                    Some(m.map_or(n, |m| m | n))
                })
                .unwrap();
            let thread = graph.thread(format!("modes-{mask}"));
            let (events, _) = collect(thread.stream(TalkUpdate::new(), modes)).await;
            let want: Vec<Event> = full
                .iter()
                .filter(|e| modes.contains(mode_of(&e.data)))
                .cloned()
                .collect();
            assert_eq!(
                outline(&events),
                outline(&want),
                "{durability:?}, modes {mask:06b}"
            );
        }
    }
}

/// A node that emits string slices, as a model client might.
#[stategraph::graph(state = Talk)]
mod words {
    use super::*;

    #[node]
    async fn say(_: &Talk, ctx: &NodeContext) -> NodeResult<Talk> {
        for word in ["durable", "agents"] {
            ctx.emit(word).await;
        }
        Ok(TalkUpdate::new())
    }

    edges! { START -> say -> END; }
}

#[derive(State, Clone, Debug, Default, Serialize, Deserialize)]
struct Choir {
    #[state(reducer = append)]
    parts: Vec<String>,
}

fn to_voice(_: &Choir) -> TalkUpdate {
    TalkUpdate::new()
}

fn from_voice(voice: &Talk) -> ChoirUpdate {
    ChoirUpdate::new().parts(voice.log.clone())
}

/// Three calls of the voice subgraph in one step.
#[stategraph::graph(state = Choir, deps = Desk)]
mod chorus {
    use super::*;

    #[subgraph(input = to_voice, output = from_voice)]
    type alto = super::voice::Graph;
    #[subgraph(input = to_voice, output = from_voice)]
    type bass = super::voice::Graph;
    #[subgraph(input = to_voice, output = from_voice)]
    type tenor = super::voice::Graph;

    edges! { START -> [alto, bass, tenor] -> END; }
}

/// Tokens are never dropped in silence: a stream without `CUSTOM`, or without subgraph events
/// for a subgraph's node, says so; a value emitted as `&str` reads as `String`, and one that
/// does not read as the type asked for is an error item; each token keeps the namespace of
/// the call it came from, so three calls of one subgraph do not run together.
#[tokio::test]
async fn custom_events_are_never_dropped_in_silence() {
    let graph = voice::graph(desk(2, false)).compile().unwrap();
    let run = graph.stream(TalkUpdate::new(), StreamMode::UPDATES);
    let items: Vec<_> = run.custom::<String>(voice::Node::Speak).collect().await;
    assert_eq!(items.len(), 1, "{items:?}");
    let error = items[0].as_ref().unwrap_err().to_string();
    assert!(error.contains("StreamMode::CUSTOM"), "{error}");

    let graph = outer::graph(desk(2, false)).compile().unwrap();
    let run = graph.stream(input(), StreamMode::CUSTOM);
    let items: Vec<_> = run.custom::<String>(voice::Node::Speak).collect().await;
    assert_eq!(items.len(), 1, "{items:?}");
    let error = items[0].as_ref().unwrap_err().to_string();
    assert!(
        error.contains("subgraphs()") && error.contains("`voice`"),
        "{error}"
    );

    let graph = words::graph().compile().unwrap();
    let said: Vec<String> = graph
        .stream(TalkUpdate::new(), StreamMode::CUSTOM)
        .custom::<String>(words::Node::Say)
        .map(|word| word.unwrap().value)
        .collect()
        .await;
    assert_eq!(
        said,
        ["durable", "agents"],
        "a &str emitted reads as a String"
    );
    let wrong: Vec<_> = graph
        .stream(TalkUpdate::new(), StreamMode::CUSTOM)
        .custom::<u32>(words::Node::Say)
        .collect()
        .await;
    assert_eq!(wrong.len(), 2);
    assert!(matches!(
        wrong[0],
        Err(GraphError::CustomValue { node: "say", .. })
    ));

    let graph = chorus::graph(desk(3, false)).compile().unwrap();
    let tokens: Vec<stategraph::Custom<String>> = graph
        .stream(
            ChoirUpdate::new(),
            StreamOptions::new(StreamMode::CUSTOM).subgraphs(),
        )
        .custom::<String>(voice::Node::Speak)
        .map(|token| token.unwrap())
        .collect()
        .await;
    let mut by_call: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for token in tokens {
        assert_eq!(token.step, 0);
        by_call.entry(token.ns).or_default().push(token.value);
    }
    assert_eq!(by_call.len(), 3, "one namespace per call: {by_call:?}");
    for (ns, tokens) in &by_call {
        assert_eq!(tokens, &["tok0", "tok1", "tok2"], "{ns}");
    }
}
