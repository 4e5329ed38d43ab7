//! The receiving side of a stream: [`RunStream`], the run's events in order, then its outcome.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures::{Stream, StreamExt};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::{Emitter, Event, EventData, StreamOptions};
use crate::error::GraphError;

/// A run being streamed: a [`Stream`] of its [`Event`]s in the order they happened, ending
/// with the run (an `Err` item last if it failed); [`RunStream::output`] is its final state,
/// the one `invoke` would have returned.
///
/// The run goes on in a task of its own while the consumer reads; dropping the stream stops it
/// at its next step boundary, with its state checkpointed.
pub struct RunStream<S> {
    events: mpsc::Receiver<Event>,
    run: Option<JoinHandle<Result<S, GraphError>>>,
    pub(super) output: Option<S>,
    stop: CancellationToken,
}

impl<S: Send + 'static> RunStream<S> {
    /// Starts `run` in a task of its own, handing it the emitter of a stream with `options`;
    /// `stop` is cancelled when the stream is dropped.
    pub(crate) fn spawn<F>(
        options: StreamOptions,
        stop: CancellationToken,
        run: impl FnOnce(Emitter) -> F,
    ) -> Self
    where
        F: Future<Output = Result<S, GraphError>> + Send + 'static,
    {
        let (emitter, events) = Emitter::channel(options);
        let run = tokio::spawn(run(emitter));
        Self {
            events,
            run: Some(run),
            output: None,
            stop,
        }
    }

    /// Reads the rest of the run and returns its final state — what `invoke` would have
    /// returned — or its error.
    pub async fn output(mut self) -> Result<S, GraphError> {
        while let Some(item) = self.next().await {
            item?;
        }
        self.output.take().ok_or_else(|| {
            GraphError::RunAborted("the stream's output was taken already".to_owned())
        })
    }

    /// The values a node of the graph or of a subgraph (`node`, at any depth) emitted of type
    /// `T` ([`NodeContext::emit`](crate::NodeContext::emit)), in order — the tokens of a model
    /// call, say. Needs [`StreamMode::CUSTOM`](super::StreamMode::CUSTOM) (and
    /// [`StreamOptions::subgraphs`] for a node inside a subgraph).
    pub fn custom<T: Clone + Send + 'static>(
        self,
        node: &str,
    ) -> impl Stream<Item = Result<T, GraphError>> + Send + 'static
    where
        S: Sync,
    {
        let node = node.to_owned();
        self.filter_map(move |item| {
            let found = match item {
                Ok(Event {
                    node: Some(from),
                    data: EventData::Custom(payload),
                    ..
                }) if from == node => payload.get::<T>().cloned().map(Ok),
                Ok(_) => None,
                Err(error) => Some(Err(error)),
            };
            std::future::ready(found)
        })
    }
}

impl<S: Clone + Send + Sync + 'static> RunStream<S> {
    /// The graph's whole state after each step (not its subgraphs'), in order. Needs
    /// [`StreamMode::VALUES`](super::StreamMode::VALUES).
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
            Ok(state) => {
                self.output = Some(state);
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
