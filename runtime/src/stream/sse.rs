//! Server-Sent Events: a stream's events as `text/event-stream` lines, so a web handler hands a
//! run to a browser as it happens. Each event is one SSE message whose `event:` is the kind
//! (`values`, `update`, `custom`, `task_started`, `task_finished`, `retry`, `checkpoint`,
//! `interrupt`) and whose `data:` is the event as one line of JSON; the run's end is an `end`
//! message with the state (and the questions, when it paused), or an `error` message with the
//! error.

use futures::{Stream, StreamExt};
use serde::Serialize;
use serde_json::{Value, json};

use super::RunStream;
use crate::events::{Event, EventData};
use crate::interrupt::Interrupt;
use crate::outcome::Outcome;

impl Event {
    /// The kind of event, as SSE names it.
    pub fn kind(&self) -> &'static str {
        match &self.data {
            EventData::Values(_) => "values",
            EventData::Update(_) => "update",
            EventData::Custom(_) => "custom",
            EventData::TaskStarted { .. } => "task_started",
            EventData::TaskFinished { .. } => "task_finished",
            EventData::Retry { .. } => "retry",
            EventData::Checkpoint(_) => "checkpoint",
            EventData::Interrupt(_) => "interrupt",
            EventData::Message(_) => "message",
        }
    }

    /// The event as JSON: `{"kind", "ns", "run_id", "step", "node", "checkpoint_id", "data"}`.
    pub fn to_json(&self) -> Result<Value, serde_json::Error> {
        let data = match &self.data {
            EventData::Values(p)
            | EventData::Update(p)
            | EventData::Custom(p)
            | EventData::Message(p) => p.to_json()?,
            EventData::TaskStarted { task_id } => json!({ "task_id": task_id }),
            EventData::TaskFinished {
                task_id,
                duration,
                error,
            } => json!({
                "task_id": task_id,
                "duration_ms": duration.as_secs_f64() * 1e3,
                "error": error,
            }),
            EventData::Retry { attempt, error } => json!({ "attempt": attempt, "error": error }),
            EventData::Checkpoint(c) => json!({
                "parent_id": c.parent_id,
                "source": c.source,
                "next": c.next,
                "values": c.values.to_json()?,
            }),
            EventData::Interrupt(i) => interrupt_json(i),
        };
        Ok(json!({
            "kind": self.kind(),
            "ns": self.ns,
            "run_id": self.run_id,
            "step": self.step,
            "node": self.node,
            "checkpoint_id": self.checkpoint_id,
            "data": data,
        }))
    }
}

/// A question as JSON: `{"id", "node", "payload", "raised_at_micros"}`.
fn interrupt_json(i: &Interrupt) -> Value {
    json!({
        "id": i.id,
        "node": i.node,
        "payload": i.payload,
        "raised_at_micros": crate::checkpoint::to_micros(i.raised_at),
    })
}

/// The `end` message's data: the state, and the questions the run paused on (none when it
/// finished).
fn end_json<S: Serialize>(outcome: &Outcome<S>) -> Result<Value, serde_json::Error> {
    let interrupts: Vec<Value> = outcome.interrupts().iter().map(interrupt_json).collect();
    Ok(json!({ "output": serde_json::to_value(outcome.state())?, "interrupts": interrupts }))
}

/// One SSE message: `event: <name>`, `data: <json>`, and the blank line that ends it.
fn message(name: &str, data: &Value) -> String {
    format!("event: {name}\ndata: {data}\n\n")
}

impl<S: Serialize + Send + 'static> RunStream<S> {
    /// The run as Server-Sent Events: one message per event, then `end` (with the state as
    /// `{"output": …, "interrupts": […]}`: the final state and no questions, or the state a
    /// paused run waits at and its questions) or `error` (with `{"message": …}`). Serve the strings as the body of
    /// a `text/event-stream` response; a browser's `EventSource` reads them.
    pub fn sse(self) -> impl Stream<Item = String> + Send + 'static {
        let mut run = Some(self);
        futures::stream::poll_fn(move |cx| {
            let Some(stream) = run.as_mut() else {
                return std::task::Poll::Ready(None);
            };
            let line = match futures::ready!(stream.poll_next_unpin(cx)) {
                Some(Ok(event)) => match event.to_json() {
                    Ok(json) => message(event.kind(), &json),
                    Err(error) => message("error", &json!({ "message": error.to_string() })),
                },
                Some(Err(error)) => {
                    run = None;
                    message("error", &json!({ "message": error.to_string() }))
                }
                None => {
                    let output = stream.output.take();
                    run = None;
                    match output.as_ref().map(end_json) {
                        Some(Ok(end)) => message("end", &end),
                        Some(Err(error)) => {
                            message("error", &json!({ "message": error.to_string() }))
                        }
                        None => message("end", &json!({ "output": null })),
                    }
                }
            };
            std::task::Poll::Ready(Some(line))
        })
    }
}
