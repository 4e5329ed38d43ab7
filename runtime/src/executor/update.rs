//! Writing to a thread as if a node had run — LangGraph's `update_state(values, as_node)`, the
//! seed's "replay with modified state". The values go through the reducers as that node's writes
//! would, the node's edges and routes decide what runs next, and the result is saved as a new
//! checkpoint (source `update`) whose parent is the checkpoint it was applied to: on the latest
//! one it continues the thread, on an earlier one it forks it.

use std::sync::Arc;

use super::{
    ChannelChain, END_WRITER, Executor, Finished, Head, INPUT, INPUT_WRITER, encode_writes,
};
use crate::checkpoint::{CheckpointError, CheckpointTuple, PutMode, Source};
use crate::error::GraphError;
use crate::ids::CheckpointId;
use crate::state::{ChannelSet, State};

/// What [`Executor::migrate_latest`] did.
pub(crate) enum Migrated {
    /// Wrote this checkpoint, of the current version.
    To(CheckpointId),
    /// Nothing: the latest checkpoint is of the current version (or there is none).
    Current,
    /// Nothing: the latest checkpoint has writes saved against it.
    Pending,
}

/// Whom an update is written as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Writer {
    /// Node `index`: its reducers apply and its edges decide what runs next.
    Node(usize),
    /// The thread's input: what START leads to runs next.
    Input,
    /// The end of the run: nothing is scheduled.
    End,
    /// The node that wrote the checkpoint the update is applied to.
    Inferred,
}

impl<S: State, D: Send + Sync + 'static> Executor<'_, S, D> {
    /// Applies `values` to checkpoint `at` (the latest when `None`) as written by `writer`, and
    /// saves the result as the thread's new head. Returns its id.
    pub(crate) async fn update(
        &self,
        at: Option<CheckpointId>,
        values: S::Update,
        writer: Writer,
    ) -> Result<CheckpointId, GraphError> {
        let p = self.persistence.as_ref().expect("an update needs a thread");
        let epoch = p.saver.claim(&p.thread_id).await?;
        let tuple = p.saver.get(&p.thread_id, &p.ns, at).await?;
        if let (None, Some(parent)) = (&tuple, at) {
            return Err(CheckpointError::MissingParent {
                thread_id: p.thread_id.clone(),
                parent,
            }
            .into());
        }
        let writer = match writer {
            Writer::Inferred => self.infer_writer(tuple.as_ref())?,
            writer => writer,
        };
        let (mut head, parent) = match tuple {
            Some(tuple) => {
                let head = self.restore(tuple, Some(epoch))?;
                let parent = head.id;
                (head, Some(parent))
            }
            // A thread's first checkpoint is step -1, whoever writes it.
            None => (
                Head {
                    epoch: Some(epoch),
                    id: CheckpointId::new(),
                    step: -2,
                    state: Arc::new(S::default()),
                    chains: vec![ChannelChain::default(); S::CHANNELS.len()],
                    next: Vec::new(),
                    barriers: Default::default(),
                    pending: Vec::new(),
                    pending_older: false,
                    pauses: self.pauses.clone().unwrap_or_default(),
                    failures: Vec::new(),
                    sends: Vec::new(),
                    saving: Default::default(),
                    parents: Default::default(),
                    reached: Default::default(),
                    weighing: Default::default(),
                },
                None,
            ),
        };
        let index = match writer {
            Writer::Node(index) => index,
            Writer::End => END_WRITER,
            Writer::Input | Writer::Inferred => INPUT_WRITER,
        };
        let writes = encode_writes::<S>(&values, self.node_name(index))?;
        // A fork becomes the latest: its id sorts after the thread's head as well.
        let latest = match at {
            Some(_) => p.saver.get(&p.thread_id, &p.ns, None).await?,
            None => None,
        };
        let id = CheckpointId::after(parent.max(latest.map(|t| t.checkpoint.id)));
        let step = head.step + 1;
        let finished = smallvec::smallvec![Finished::<S> {
            node: index,
            update: values,
            writes,
            failure: None,
        }];
        let step_writes = self.merge(&mut head, finished, step, Source::Update)?;
        // The failures of the base were handed to its handlers; an update hands on none.
        head.failures = Vec::new();
        head.next = match writer {
            Writer::Node(node) => {
                // The node counts as having run: it leaves what was scheduled (with the inputs
                // sent to it), and what its edges lead to (and send) joins it.
                head.sends.retain(|(target, _)| *target != node);
                let mut next: Vec<usize> =
                    head.next.iter().copied().filter(|&n| n != node).collect();
                let mut sends = Vec::new();
                let mut led_to = Vec::new();
                self.next_nodes(
                    &[node],
                    &head.state,
                    &mut head.barriers,
                    &mut sends,
                    &mut led_to,
                );
                next.extend(led_to);
                head.sends.extend(sends);
                next.sort_unstable();
                next.dedup();
                next
            }
            Writer::Input | Writer::Inferred => {
                head.sends.clear();
                self.start_nodes(&head.state, &mut head.sends)
            }
            Writer::End => {
                head.sends.clear();
                Vec::new()
            }
        };
        head.id = id;
        head.step = step;
        let mode = if at.is_some() {
            PutMode::Fork
        } else {
            PutMode::Advance
        };
        let new = self.new_checkpoint(&mut head, parent, step_writes, mode)?;
        p.saver.put(new).await?;
        Ok(id)
    }

    /// Writes the thread's latest checkpoint again as this version of the state type, when an
    /// earlier version wrote it: a checkpoint continuing it (source `update`) with the same
    /// next nodes and every channel stored whole. `Ok(None)` when it is of this version already,
    /// or the thread has no checkpoint. A checkpoint with writes saved against it (a paused or
    /// failed step) is left alone: the copy would not carry them.
    pub(crate) async fn migrate_latest(&self) -> Result<Migrated, GraphError> {
        let p = self
            .persistence
            .as_ref()
            .expect("a migration needs a thread");
        let epoch = p.saver.claim(&p.thread_id).await?;
        let Some(tuple) = p.saver.get(&p.thread_id, &p.ns, None).await? else {
            return Ok(Migrated::Current);
        };
        if tuple.checkpoint.metadata.state_version == S::VERSION {
            return Ok(Migrated::Current);
        }
        if !tuple.pending_writes.is_empty() {
            return Ok(Migrated::Pending);
        }
        let mut head = self.restore(tuple, Some(epoch))?;
        let parent = head.id;
        head.id = CheckpointId::after(Some(parent));
        let writes = super::StepWrites::new(
            Source::Update,
            Vec::new(),
            ChannelSet::new(),
            ChannelSet::new(),
            vec![Vec::new(); S::CHANNELS.len()],
        );
        let new = self.new_checkpoint(&mut head, Some(parent), writes, PutMode::Advance)?;
        p.saver.put(new).await?;
        Ok(Migrated::To(head.id))
    }

    /// The writer of an update that names none, as LangGraph infers it: the input on a thread
    /// with no step yet, else the one node that wrote the checkpoint.
    fn infer_writer(&self, base: Option<&CheckpointTuple>) -> Result<Writer, GraphError> {
        let Some(base) = base else {
            return Ok(Writer::Input);
        };
        let checkpoint = &base.checkpoint;
        let nodes: Vec<&String> = checkpoint
            .metadata
            .writes
            .keys()
            .filter(|name| name.as_str() != INPUT)
            .collect();
        match nodes.as_slice() {
            [] => Ok(Writer::Input),
            [node] => {
                self.spec
                    .index_of(node)
                    .map(Writer::Node)
                    .ok_or_else(|| GraphError::UnknownNode {
                        thread_id: checkpoint.thread_id.clone(),
                        checkpoint: checkpoint.id,
                        node: (*node).clone(),
                        graph: self.spec.name,
                    })
            }
            several => Err(GraphError::AmbiguousUpdate {
                thread_id: checkpoint.thread_id.clone(),
                checkpoint: checkpoint.id,
                nodes: several.iter().map(|n| (*n).clone()).collect(),
            }),
        }
    }
}
