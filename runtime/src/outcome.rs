//! How a run ended without failing: [`Outcome::Finished`] with its final state, or
//! [`Outcome::Paused`] with its state and the questions it waits on. A pause is not an error,
//! so `?` on a run propagates only real failures.

use crate::error::GraphError;
use crate::ids::{CheckpointId, ThreadId};
use crate::interrupt::Interrupt;

/// How a run ended: it reached END, or it paused for answers (a node's `ctx.interrupt`, or a
/// pause before or after a node). A failure is the `Err` beside it.
///
/// As in LangGraph, where `invoke` returns the state with the pending interrupts beside it, a
/// paused run is an ordinary result: the thread waits, durably, and
/// [`Thread::resume_with`](crate::Thread::resume_with) answers it — now or days later, from
/// any process.
///
/// ```
/// # async fn demo<G: stategraph_runtime::GraphDef>(
/// #     thread: &stategraph_runtime::Thread<G>,
/// #     input: <G::State as stategraph_runtime::State>::Update,
/// # ) -> Result<(), Box<dyn std::error::Error>> {
/// use stategraph_runtime::{Outcome, Resume};
/// match thread.invoke(input).await? {
///     Outcome::Finished(state) => println!("done: {state:?}"),
///     Outcome::Paused(paused) => {
///         let question: String = paused.interrupts[0].payload_as()?;
///         println!("waiting for an answer to {question}");
///         // …later, maybe in another process:
///         thread.resume_with(Resume::answer(paused.interrupts[0].id, "yes")).await?;
///     }
/// }
/// # Ok(()) }
/// ```
#[must_use = "a run may have paused for an answer: match on it, or take its final state with `into_finished()?`"]
#[derive(Debug, Clone)]
pub enum Outcome<S> {
    /// The run reached END; its final state.
    Finished(S),
    /// The run paused: questions wait for answers.
    Paused(Paused<S>),
}

/// A run that paused for answers: its state, and the questions it waits on.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Paused<S> {
    /// The state at the checkpoint the thread waits at.
    pub state: S,
    /// The questions, in the order they were asked; answer them with
    /// [`Resume::answer`](crate::Resume::answer).
    pub interrupts: Vec<Interrupt>,
    /// The checkpoint the thread waits at.
    pub checkpoint: CheckpointId,
    /// The thread.
    pub thread_id: ThreadId,
}

impl<S> Outcome<S> {
    /// The state: the final one, or the one the run paused at.
    pub fn state(&self) -> &S {
        match self {
            Outcome::Finished(state) => state,
            Outcome::Paused(paused) => &paused.state,
        }
    }

    /// The state, finished or paused, taken out.
    pub fn into_state(self) -> S {
        match self {
            Outcome::Finished(state) => state,
            Outcome::Paused(paused) => paused.state,
        }
    }

    /// The questions the run waits on: none when it finished.
    pub fn interrupts(&self) -> &[Interrupt] {
        match self {
            Outcome::Finished(_) => &[],
            Outcome::Paused(paused) => &paused.interrupts,
        }
    }

    /// Whether the run reached END.
    pub fn is_finished(&self) -> bool {
        matches!(self, Outcome::Finished(_))
    }

    /// Whether the run paused for answers.
    pub fn is_paused(&self) -> bool {
        matches!(self, Outcome::Paused(_))
    }

    /// The final state, if the run reached END.
    pub fn finished(self) -> Option<S> {
        match self {
            Outcome::Finished(state) => Some(state),
            Outcome::Paused(_) => None,
        }
    }

    /// The pause, if the run paused.
    pub fn paused(self) -> Option<Paused<S>> {
        match self {
            Outcome::Finished(_) => None,
            Outcome::Paused(paused) => Some(paused),
        }
    }

    /// The final state, or [`GraphError::Interrupted`] (naming the thread, the checkpoint and
    /// the questions) if the run paused: for a caller that cannot wait for an answer and
    /// treats a pause as a failure.
    pub fn into_finished(self) -> Result<S, GraphError> {
        match self {
            Outcome::Finished(state) => Ok(state),
            Outcome::Paused(paused) => Err(GraphError::Interrupted {
                thread_id: paused.thread_id,
                checkpoint: paused.checkpoint,
                interrupts: paused.interrupts,
            }),
        }
    }
}
