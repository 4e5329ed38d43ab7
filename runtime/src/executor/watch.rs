//! What a streamed run reports as it goes (see `stream/`): each step's updates and state, each
//! question, each checkpoint written. Nothing here runs unless the run is streamed in the mode
//! concerned; a copy of an update or of the state is made only then.

use super::{Executor, Finished, Head};
use crate::checkpoint::NewCheckpoint;
use crate::events::{CheckpointEvent, EventData, Payload, StreamMode};
use crate::interrupt::Interrupt;
use crate::state::State;

impl<S: State, D: Send + Sync + 'static> Executor<'_, S, D> {
    /// The updates of a step's finished tasks, in merge order, when the stream wants them.
    pub(super) fn updates_to_emit(
        &self,
        finished: &[Finished<S>],
    ) -> Vec<(&'static str, S::Update)> {
        if !self.watching(StreamMode::UPDATES) {
            return Vec::new();
        }
        finished
            .iter()
            .map(|f| (self.node_name(f.node), f.update.clone()))
            .collect()
    }

    /// Reports the `updates` of the step that reaches `head`, before its checkpoint is written
    /// (and reported): a step's events come as task start, custom events, task finish, update,
    /// checkpoint, values.
    pub(super) async fn emit_updates(
        &self,
        head: &Head<S>,
        updates: Vec<(&'static str, S::Update)>,
    ) {
        let Some(events) = &self.events else { return };
        let checkpoint = self.persistence.as_ref().map(|_| head.id);
        for (node, update) in updates {
            let data = EventData::Update(Payload::update::<S>(update));
            events.send(head.step, Some(node), checkpoint, data).await;
        }
    }

    /// Reports the state at `head`.
    pub(super) async fn emit_values(&self, head: &Head<S>) {
        let Some(events) = self.events.as_ref().filter(|e| e.wants(StreamMode::VALUES)) else {
            return;
        };
        let checkpoint = self.persistence.as_ref().map(|_| head.id);
        let data = EventData::Values(Payload::new((*head.state).clone()));
        events.send(head.step, None, checkpoint, data).await;
    }

    /// Reports the questions a run stopped on at `head`.
    pub(super) async fn emit_interrupts(&self, head: &Head<S>, interrupts: &[Interrupt]) {
        let Some(events) = self
            .events
            .as_ref()
            .filter(|e| e.wants(StreamMode::INTERRUPTS))
        else {
            return;
        };
        for interrupt in interrupts {
            let data = EventData::Interrupt(interrupt.clone());
            let node = Some(interrupt.node.as_str());
            events.send(head.step + 1, node, Some(head.id), data).await;
        }
    }

    /// Reports checkpoint `new`, holding `state`, as written.
    pub(super) async fn emit_checkpoint(&self, new: &NewCheckpoint, state: &S) {
        let Some(events) = self
            .events
            .as_ref()
            .filter(|e| e.wants(StreamMode::CHECKPOINTS))
        else {
            return;
        };
        let checkpoint = &new.checkpoint;
        let data = EventData::Checkpoint(CheckpointEvent {
            parent_id: checkpoint.parent_id,
            source: checkpoint.metadata.source,
            next: checkpoint.next.clone(),
            values: Payload::new(state.clone()),
        });
        let step = checkpoint.metadata.step;
        events.send(step, None, Some(checkpoint.id), data).await;
    }

    /// Whether the run is streamed in `mode`.
    pub(super) fn watching(&self, mode: StreamMode) -> bool {
        self.events.as_ref().is_some_and(|e| e.wants(mode))
    }
}
