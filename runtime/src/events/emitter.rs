//! The sending side of a stream, as a run holds it: which modes are wanted, the namespace its
//! events carry, and the bounded channel they go into. A send waits for room in the buffer
//! (the consumer's pace is the run's); a send after the consumer left does nothing — the run
//! stops at its next step boundary, told by the stream's stop token.

use tokio::sync::mpsc;

use super::{Event, EventData, StreamMode, StreamOptions};
use crate::ids::CheckpointId;

/// Where a run sends its events.
#[derive(Clone)]
pub(crate) struct Emitter {
    tx: mpsc::Sender<Event>,
    modes: StreamMode,
    subgraphs: bool,
    ns: String,
    /// The graph whose run sends the events.
    graph: &'static str,
    /// The run the events belong to.
    run_id: std::sync::Arc<str>,
}

impl Emitter {
    /// An emitter for `graph`, the graph streamed, and the receiving end of its buffer.
    pub(crate) fn channel(
        options: StreamOptions,
        graph: &'static str,
    ) -> (Self, mpsc::Receiver<Event>) {
        let (tx, rx) = mpsc::channel(options.buffer);
        let emitter = Self {
            tx,
            modes: options.modes,
            subgraphs: options.subgraphs,
            ns: String::new(),
            graph,
            run_id: uuid::Uuid::now_v7().to_string().into(),
        };
        (emitter, rx)
    }

    /// Whether the stream carries events of `mode`.
    pub(crate) fn wants(&self, mode: StreamMode) -> bool {
        self.modes.contains(mode)
    }

    /// The namespace these events carry.
    pub(crate) fn ns(&self) -> &str {
        &self.ns
    }

    /// The emitter of a call of subgraph `graph` in namespace `ns`, when the stream includes
    /// subgraphs.
    pub(crate) fn nested(&self, ns: String, graph: &'static str) -> Option<Self> {
        self.subgraphs.then(|| Self {
            ns,
            graph,
            ..self.clone()
        })
    }

    /// Sends one event, waiting for room in the buffer.
    pub(crate) async fn send(
        &self,
        step: i64,
        node: Option<&str>,
        checkpoint_id: Option<CheckpointId>,
        data: EventData,
    ) {
        let event = Event {
            ns: self.ns.clone(),
            graph: self.graph,
            run_id: std::sync::Arc::clone(&self.run_id),
            step,
            node: node.map(str::to_owned),
            checkpoint_id,
            data,
        };
        // A closed channel means the consumer left; its stop token ends the run.
        let _ = self.tx.send(event).await;
    }
}
