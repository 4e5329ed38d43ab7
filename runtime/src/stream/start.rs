//! Starting a streamed run on a thread: [`Thread::stream`], [`Thread::stream_resume`], and
//! (through [`ResumeWith::stream`](crate::ResumeWith::stream)) a streamed resume with answers.
//! The run goes on in a task of its own, on the thread's executor with an emitter and a stop
//! token the stream cancels when it is dropped.

use tokio_util::sync::CancellationToken;

use super::RunStream;
use crate::events::StreamOptions;
use crate::executor::Command;
use crate::graph::{GraphDef, NodeId};
use crate::interrupt::Resume;
use crate::state::State;
use crate::thread::Thread;

/// What a streamed run does.
pub(crate) enum Streamed<S: State> {
    Invoke(S::Update),
    Resume,
    Answer(Resume, Command<S>),
}

impl<G: GraphDef> Thread<G> {
    /// Starts a run as [`Thread::invoke`] does, streaming its events as they happen: the
    /// modes `options` names ([`StreamMode`](crate::StreamMode), or [`StreamOptions`] for subgraphs and the buffer).
    /// The run goes on in a task of its own; [`RunStream::output`] is its
    /// [`Outcome`](crate::Outcome).
    /// Dropping the stream stops the run at its next step boundary, checkpointed, and
    /// [`Thread::resume`] continues it later.
    ///
    /// ```
    /// # async fn demo<G: stategraph_runtime::GraphDef>(
    /// #     thread: &stategraph_runtime::Thread<G>,
    /// #     input: <G::State as stategraph_runtime::State>::Update,
    /// # ) -> Result<(), stategraph_runtime::GraphError> {
    /// use futures::StreamExt;
    /// use stategraph_runtime::{EventData, StreamMode};
    ///
    /// let mut events = thread.stream(input, StreamMode::UPDATES | StreamMode::CUSTOM);
    /// while let Some(event) = events.next().await {
    ///     if let EventData::Custom(token) = event?.data {
    ///         print!("{}", token.get::<String>().map_or("", String::as_str));
    ///     }
    /// }
    /// let outcome = events.output().await?; // finished, or paused with its questions
    /// # Ok(()) }
    /// ```
    pub fn stream(
        &self,
        input: <G::State as State>::Update,
        options: impl Into<StreamOptions>,
    ) -> RunStream<G::State> {
        self.streamed(options.into(), Streamed::Invoke(input))
    }

    /// Continues from the latest checkpoint as [`Thread::resume`] does, streaming the run's
    /// events as [`Thread::stream`] does; in [`StreamMode::VALUES`](crate::StreamMode::VALUES) the
    /// first event is the state it starts from.
    pub fn stream_resume(&self, options: impl Into<StreamOptions>) -> RunStream<G::State> {
        self.streamed(options.into(), Streamed::Resume)
    }

    /// Runs `run` on this handle's executor in a task of its own, streaming its events.
    pub(crate) fn streamed(
        &self,
        options: StreamOptions,
        run: Streamed<G::State>,
    ) -> RunStream<G::State> {
        let thread = self.clone();
        // Stops when the stream is dropped, and when this handle's own token says so.
        let stop = self
            .stop_token()
            .map_or_else(CancellationToken::new, CancellationToken::child_token);
        RunStream::spawn(
            options,
            <G::Node as NodeId>::GRAPH,
            stop.clone(),
            move |events| async move {
                let executor = thread.executor()?.stop_on(Some(stop)).events(Some(events));
                match run {
                    Streamed::Invoke(input) => executor.invoke(input).await,
                    Streamed::Resume => executor.resume().await,
                    Streamed::Answer(resume, command) => {
                        executor.resume_with(resume, command).await
                    }
                }
            },
        )
    }
}
