//! The receiving side of a stream: [`RunStream`], the run's events in order, then its outcome.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures::{Stream, StreamExt};
use serde::de::DeserializeOwned;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::error::GraphError;
use crate::events::{Emitter, Event, EventData, Payload, StreamMode, StreamOptions};
use crate::graph::NodeId;
use crate::outcome::Outcome;

/// A run being streamed: a [`Stream`] of its [`Event`]s in the order they happened, ending
/// with the run (an `Err` item last if it failed; a pause is not a failure: the stream ends,
/// and the questions came as [`EventData::Interrupt`] events); [`RunStream::output`] is its
/// [`Outcome`], the one `invoke` would have returned.
///
/// The run goes on in a task of its own while the consumer reads; dropping the stream stops it
/// at its next step boundary, with its state checkpointed.
///
/// ```
/// # async fn demo<G: stategraph_runtime::GraphDef>(
/// #     thread: &stategraph_runtime::Thread<G>,
/// #     input: <G::State as stategraph_runtime::State>::Update,
/// # ) -> Result<(), stategraph_runtime::GraphError> {
/// use futures::StreamExt;
/// use stategraph_runtime::{EventData, Outcome, StreamMode};
/// let mut run = thread.stream(input, StreamMode::UPDATES | StreamMode::INTERRUPTS);
/// while let Some(event) = run.next().await {
///     let event = event?;
///     match &event.data {
///         EventData::Update(update) => println!("{:?} wrote {update:?}", event.node),
///         EventData::Interrupt(question) => println!("{} asks", question.node),
///         _ => {}
///     }
/// }
/// match run.output().await? {
///     Outcome::Finished(state) => println!("done: {state:?}"),
///     Outcome::Paused(paused) => println!("waits on {} question(s)", paused.interrupts.len()),
/// }
/// # Ok(()) }
/// ```
pub struct RunStream<S> {
    events: mpsc::Receiver<Event>,
    run: Option<JoinHandle<Result<Outcome<S>, GraphError>>>,
    pub(super) output: Option<Outcome<S>>,
    stop: CancellationToken,
    /// What the stream was asked for.
    options: StreamOptions,
    /// The graph streamed.
    graph: &'static str,
}

impl<S: Send + 'static> RunStream<S> {
    /// Starts `run` in a task of its own, handing it the emitter of a stream with `options`;
    /// `stop` is cancelled when the stream is dropped.
    pub(crate) fn spawn<F>(
        options: StreamOptions,
        graph: &'static str,
        stop: CancellationToken,
        run: impl FnOnce(Emitter) -> F,
    ) -> Self
    where
        F: Future<Output = Result<Outcome<S>, GraphError>> + Send + 'static,
    {
        let (emitter, events) = Emitter::channel(options, graph);
        let run = tokio::spawn(run(emitter));
        Self {
            events,
            run: Some(run),
            output: None,
            stop,
            options,
            graph,
        }
    }

    /// Reads the rest of the run and returns how it ended — what `invoke` would have
    /// returned: finished with its final state, or paused with its state and questions — or
    /// its error.
    pub async fn output(mut self) -> Result<Outcome<S>, GraphError> {
        while let Some(item) = self.next().await {
            item?;
        }
        self.output.take().ok_or_else(|| {
            GraphError::RunAborted("the stream's output was taken already".to_owned())
        })
    }

    /// The values node `node` emitted ([`NodeContext::emit`](crate::NodeContext::emit)) as
    /// `T`, in order, each with the namespace and step it came from — the tokens of a model
    /// call, say. `node` is a node of the graph streamed or, with
    /// [`StreamOptions::subgraphs`], of a subgraph at any depth (`voice::Node::Speak`): a name
    /// the compiler checks. Tokens of several calls of one subgraph keep their calls apart by
    /// namespace.
    ///
    /// Nothing is dropped in silence: a stream started without
    /// [`StreamMode::CUSTOM`](crate::StreamMode::CUSTOM), or asking for a subgraph's node
    /// without [`StreamOptions::subgraphs`], yields one [`GraphError::Config`] saying which is
    /// missing; a value of another type is read as `T` through JSON (a `&str` emitted reads as
    /// a `String`), and one that does not decode is a [`GraphError::CustomValue`] item.
    pub fn custom<T>(
        self,
        node: impl NodeId,
    ) -> impl Stream<Item = Result<Custom<T>, GraphError>> + Send + 'static
    where
        T: Clone + DeserializeOwned + Send + 'static,
        S: Sync,
    {
        let graph = graph_of(&node);
        let missing = if !self.options.modes.contains(StreamMode::CUSTOM) {
            Some(format!(
                "`custom({node})` reads custom events, but the stream was started without StreamMode::CUSTOM; add it to the stream's modes"
            ))
        } else if graph != self.graph && !self.options.subgraphs {
            Some(format!(
                "`custom({node})` reads a node of graph `{graph}`, a subgraph of `{}`, but the stream was started without subgraph events; stream with `StreamOptions::new(modes).subgraphs()`",
                self.graph
            ))
        } else {
            None
        };
        let name = node.name();
        let events = self.filter_map(move |item| {
            let found = match item {
                Ok(Event {
                    node: Some(from),
                    graph: from_graph,
                    ns,
                    step,
                    checkpoint_id,
                    data: EventData::Custom(payload),
                    ..
                }) if from == name && from_graph == graph => {
                    Some(read_custom::<T>(&payload, name).map(|value| Custom {
                        value,
                        ns,
                        step,
                        checkpoint_id,
                    }))
                }
                Ok(_) => None,
                Err(error) => Some(Err(error)),
            };
            std::future::ready(found)
        });
        match missing {
            Some(message) => {
                futures::stream::iter([Err(GraphError::Config(message))]).left_stream()
            }
            None => events.right_stream(),
        }
    }
}

/// The graph node `_node` belongs to.
fn graph_of<N: NodeId>(_node: &N) -> &'static str {
    N::GRAPH
}

/// A value a node emitted, read as `T`: the value itself when it is one, else through JSON.
fn read_custom<T: Clone + DeserializeOwned + 'static>(
    payload: &Payload,
    node: &'static str,
) -> Result<T, GraphError> {
    if let Some(value) = payload.get::<T>() {
        return Ok(value.clone());
    }
    payload
        .to_json()
        .and_then(serde_json::from_value)
        .map_err(|_| GraphError::CustomValue {
            node,
            expected: std::any::type_name::<T>(),
        })
}

/// A value a node emitted ([`RunStream::custom`]), with where it came from.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Custom<T> {
    /// The value.
    pub value: T,
    /// The namespace of the run that emitted it: `""` for the graph streamed, a subgraph
    /// call's otherwise (one per call).
    pub ns: String,
    /// The step the node ran in.
    pub step: i64,
    /// The checkpoint that step started from; `None` without a checkpointer.
    pub checkpoint_id: Option<crate::ids::CheckpointId>,
}

impl<S: Clone + Send + Sync + 'static> RunStream<S> {
    /// The graph's whole state after each step (not its subgraphs'), in order. Needs
    /// [`StreamMode::VALUES`](crate::StreamMode::VALUES).
    pub fn values(self) -> impl Stream<Item = Result<S, GraphError>> + Send + 'static {
        self.filter_map(|item| {
            let found = match item {
                Ok(Event {
                    ns,
                    data: EventData::Values(payload),
                    ..
                }) if ns.is_empty() => payload.get::<S>().cloned().map(Ok),
                Ok(_) => None,
                Err(error) => Some(Err(error)),
            };
            std::future::ready(found)
        })
    }
}

impl<S: Send + 'static> Stream for RunStream<S> {
    type Item = Result<Event, GraphError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.run.is_none() {
            return Poll::Ready(None);
        }
        // Every event is read once the run has dropped its emitters: then its outcome.
        match self.events.poll_recv(cx) {
            Poll::Ready(Some(event)) => return Poll::Ready(Some(Ok(event))),
            Poll::Pending => return Poll::Pending,
            Poll::Ready(None) => {}
        }
        let run = self.run.as_mut().expect("checked above");
        let outcome = match Pin::new(run).poll(cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(Ok(outcome)) => outcome,
            Poll::Ready(Err(join)) => Err(GraphError::RunAborted(join.to_string())),
        };
        self.run = None;
        match outcome {
            Ok(outcome) => {
                self.output = Some(outcome);
                Poll::Ready(None)
            }
            Err(error) => Poll::Ready(Some(Err(error))),
        }
    }
}

// The output is only stored, never polled in place.
impl<S> Unpin for RunStream<S> {}

impl<S> Drop for RunStream<S> {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

impl<S> std::fmt::Debug for RunStream<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunStream")
            .field("running", &self.run.is_some())
            .finish_non_exhaustive()
    }
}
