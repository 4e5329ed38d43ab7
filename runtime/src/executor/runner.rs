//! Running a step's tasks: concurrently when there are several, each saving what it did as it
//! ends (or keeping it until the step ends, when the head's checkpoint is not stored yet), and
//! the step's outcome — its finished tasks in plan order, or why it stopped.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use futures::future::Either;
use smallvec::SmallVec;
use tracing::Instrument;

use super::durability::InFlight;
use super::plan::Planned;
use super::task::{Recording, SaveTo, TaskFailure, TaskRun, run_task, saved_task};
use super::{Durability, Executor, Finished, Head, Scope, StepTasks, handled_by};
use crate::error::GraphError;
use crate::events::running::{self, TaskScope};
use crate::events::{EventData, StreamMode};
use crate::ids::ThreadId;
use crate::interrupt::{Interrupt, TaskInterrupts};
use crate::node::NodeContext;
use crate::once::TaskOnce;
use crate::state::State;

impl<S: State, D: Send + Sync + 'static> Executor<'_, S, D> {
    /// Runs the step's tasks concurrently; tasks whose writes were saved before are not run.
    ///
    /// What each task records is saved as it ends when the head's checkpoint is stored (in
    /// `Sync` and `Async` mode; in `Async` mode a step of several tasks first waits for the
    /// head's checkpoint in flight to land); otherwise (`Exit` mode, or a head not written yet)
    /// it is kept, and saved only if the step fails or pauses, once the head's checkpoint is
    /// stored.
    pub(super) async fn run_tasks(
        &self,
        head: &mut Head<S>,
        step: i64,
    ) -> Result<StepTasks<Finished<S>>, GraphError> {
        let tasks = self.plan(head, step)?;
        let save_at_once = head
            .saving
            .saves_tasks_at_once(self.durability, tasks.len());
        if save_at_once && self.durability == Durability::Async {
            // Tasks save their writes as they finish, against a checkpoint that must exist.
            self.landed(head).await?;
        }
        // Each task's result goes to its place in the plan, so updates merge in that order.
        let mut slots: StepTasks<Option<Finished<S>>> = SmallVec::with_capacity(tasks.len());
        let mut to_run: StepTasks<usize> = SmallVec::with_capacity(tasks.len());
        for (at, task) in tasks.iter().enumerate() {
            let saved = self
                .persistence
                .as_ref()
                .zip(task.task_id)
                .and_then(|(p, id)| {
                    let at = (&p.thread_id, head.id);
                    saved_task::<S>(&head.pending, id, task.node, at, head.pending_older)
                });
            match saved {
                Some(done) => slots.push(Some(done?)),
                None => {
                    slots.push(None);
                    to_run.push(at);
                }
            }
        }
        let thread_id = self.thread_id();
        let save_to = self.persistence.clone().map(|persistence| SaveTo {
            persistence,
            epoch: head.epoch,
            checkpoint: head.id,
        });
        let save_now = save_to.clone().filter(|_| save_at_once);
        // What each subgraph task hands its call, kept to read back where each call ended (none
        // when the step runs no subgraph).
        let scopes: Vec<Option<Arc<Scope>>> = if tasks
            .iter()
            .any(|planned| self.spec.nodes[planned.node].subgraph.is_some())
        {
            tasks
                .iter()
                .map(|planned| self.scope(head, planned))
                .collect()
        } else {
            Vec::new()
        };
        // The previous step's checkpoint, still being written (`Async`), is driven while this
        // step's tasks run.
        let mut in_flight = head.saving.in_flight.take();
        let runs = {
            let head = &*head;
            let shared_step = tasks.len() > 1;
            // Two or more tasks to run are spawned, each on a task of its own.
            let spawned = to_run.len() > 1;
            let task = |at: usize, save_now: Option<SaveTo>| {
                let planned = &tasks[at];
                let (node, task_id) = (planned.node, planned.task_id);
                let spec = &self.spec.nodes[node];
                let interrupts =
                    task_id.map(|t| Arc::new(TaskInterrupts::new(t, spec.name, &head.pending)));
                let once = task_id.map(|t| Arc::new(TaskOnce::new(t, spec.name, &head.pending)));
                let ctx = NodeContext {
                    thread_id: thread_id.clone(),
                    checkpoint_id: self.persistence.as_ref().map(|_| head.id),
                    step,
                    node: spec.name,
                    deps: Arc::clone(&self.deps),
                    interrupts,
                    once,
                    attempts: spec
                        .retry
                        .as_ref()
                        .filter(|policy| policy.max_attempts() > 1)
                        .map(|_| Arc::default()),
                    failures: handled_by(&head.failures, spec.name),
                    input: planned.input.clone(),
                    cache: self
                        .persistence
                        .as_ref()
                        .filter(|_| spec.cache.is_some())
                        .map(|p| Arc::clone(&p.saver)),
                    scope: scopes.get(at).cloned().flatten(),
                    events: self.events.clone(),
                    store: self.store.clone(),
                };
                // A step's only task needs no pending writes: the checkpoint that follows saves
                // its result. With siblings they protect its work when a sibling fails or the
                // process dies before the step ends.
                let recording = task_id.map(|task_id| Recording {
                    task_id,
                    pending_writes: shared_step,
                });
                let handler = spec.on_error.map(|h| self.spec.nodes[h].name);
                let run = run_task(
                    Arc::clone(&spec.run),
                    Arc::clone(&head.state),
                    ctx,
                    node,
                    handler,
                    recording,
                );
                // What a model called from the node reaches: in a run streamed in messages
                // mode, the stream, this task's node and step and the run's token count; in a
                // task spawned off the run's own (which leaves the run's scope), the count.
                let usage = self.persistence.as_ref().map(|p| &p.usage);
                let task_scope = match self.events.as_ref() {
                    Some(events) if events.wants(StreamMode::MESSAGES) => Some(TaskScope {
                        events: Some(events.clone()),
                        step,
                        node: spec.name,
                        checkpoint_id: self.persistence.as_ref().map(|_| head.id),
                        usage: usage.map(Arc::clone),
                    }),
                    _ if spawned => usage.map(running::run_scope),
                    _ => None,
                };
                let watch = self
                    .events
                    .clone()
                    .filter(|e| e.wants(StreamMode::TASKS))
                    .map(|events| {
                        let checkpoint = self.persistence.as_ref().map(|_| head.id);
                        (events, spec.name, checkpoint)
                    });
                let span = tracing::debug_span!(
                    "task",
                    graph = self.spec.name,
                    thread = thread_id.as_ref().map(ThreadId::as_str),
                    checkpoint = %head.id,
                    step,
                    node = spec.name,
                    task = task_id.map(tracing::field::display),
                );
                // A task nobody watches, with nothing to save as it ends and its span off (no
                // subscriber) runs unwrapped: each wrapper is a move of the whole task.
                if watch.is_none()
                    && save_now.is_none()
                    && span.is_disabled()
                    && task_scope.is_none()
                {
                    return Either::Left(run);
                }
                let run = async move {
                    let started = Instant::now();
                    if let Some((events, name, checkpoint)) = &watch {
                        let data = EventData::TaskStarted { task_id };
                        events.send(step, Some(name), *checkpoint, data).await;
                    }
                    // Awaited in place without a scope: a wrapper would move the task again.
                    let run = match task_scope {
                        Some(scope) => running::scope(scope, run).await,
                        None => run.await,
                    };
                    let run = match &save_now {
                        Some(to) => run.save_now(to).await,
                        None => run,
                    };
                    if let Some((events, name, checkpoint)) = &watch {
                        let error = match &run.outcome {
                            Err(TaskFailure::Node(_, error)) => Some(error.to_string()),
                            Err(TaskFailure::Graph(error)) => Some(error.to_string()),
                            _ => None,
                        };
                        let data = EventData::TaskFinished {
                            task_id,
                            duration: started.elapsed(),
                            error: error.map(|e| crate::policy::cut(e, 1024)),
                        };
                        events.send(step, Some(name), *checkpoint, data).await;
                    }
                    run
                };
                Either::Right(run.instrument(span))
            };
            if let [at] = to_run[..] {
                // A step's only task saves what it records right after it, as it would at its
                // end, unless an event reports that end (which comes after the save).
                let watched = self.watching(StreamMode::TASKS);
                let (during, after) = match watched {
                    true => (save_now, None),
                    false => (None, save_now),
                };
                let run = task(at, during);
                let mut run = match in_flight {
                    None => run.await,
                    Some(_) => {
                        let drive = InFlight::drive(&mut in_flight);
                        futures::future::join(run, drive).await.0
                    }
                };
                if let Some(to) = after.filter(|_| !run.records.is_empty()) {
                    run = run.save_now(&to).await;
                }
                let mut runs: StepTasks<_> = SmallVec::new();
                runs.push(run);
                runs
            } else {
                let handles: Vec<_> = to_run
                    .iter()
                    // Boxed: the runtime moves a spawned future several times, a pointer is
                    // cheaper to move than the task.
                    .map(|&at| tokio::spawn(Box::pin(task(at, save_now.clone()))))
                    .collect();
                let joined = async {
                    let mut runs = SmallVec::with_capacity(handles.len());
                    for (handle, &at) in handles.into_iter().zip(&to_run) {
                        runs.push(handle.await.unwrap_or_else(|join| TaskRun {
                            outcome: Err(TaskFailure::Node(
                                tasks[at].node,
                                format!("node task was cancelled or panicked: {join}").into(),
                            )),
                            records: Vec::new(),
                        }));
                    }
                    runs
                };
                futures::future::join(joined, InFlight::drive(&mut in_flight))
                    .await
                    .0
            }
        };
        head.saving.in_flight = in_flight;
        let mut first_failure = None;
        let mut interrupts = Vec::new();
        let mut records = Vec::new();
        for (run, &at) in runs.into_iter().zip(&to_run) {
            records.extend(run.records);
            match run.outcome {
                Ok(done) => slots[at] = Some(done),
                Err(TaskFailure::Interrupt(interrupt)) => interrupts.push(interrupt),
                Err(failure) => {
                    first_failure.get_or_insert(failure);
                }
            }
        }
        if first_failure.is_some() || !interrupts.is_empty() {
            // Kept records: the step stops here, so its checkpoint is stored and what its tasks
            // did is saved against it for the resume.
            if let Some(to) = save_to.filter(|_| !records.is_empty()) {
                self.settle(head).await?;
                to.save(records, first_failure.as_ref()).await?;
            }
        }
        if let Some(failure) = first_failure {
            return Err(match failure {
                TaskFailure::Node(node, source) => GraphError::Node {
                    thread_id,
                    node: self.spec.nodes[node].name,
                    step,
                    source,
                },
                TaskFailure::Graph(error) => error,
                TaskFailure::Interrupt(_) => unreachable!("interrupts are collected above"),
            });
        }
        if !interrupts.is_empty() {
            interrupts.sort_by_key(|i: &Interrupt| (i.raised_at, i.id));
            return Err(GraphError::Interrupted {
                thread_id: thread_id.expect("interrupts need a checkpointer"),
                checkpoint: head.id,
                interrupts,
            });
        }
        if !scopes.is_empty() {
            head.reached = scopes
                .iter()
                .flatten()
                .filter_map(|scope| scope.reached.lock().ok()?.take())
                .collect();
        }
        Ok(slots.into_iter().flatten().collect())
    }

    /// What a task of a subgraph node hands its call; `None` for another node.
    fn scope(&self, head: &Head<S>, planned: &Planned) -> Option<Arc<Scope>> {
        self.spec.nodes[planned.node].subgraph.as_ref()?;
        let mut parents = head.parents.clone();
        if let Some(p) = &self.persistence {
            parents.insert(p.ns.clone(), head.id);
        }
        Some(Arc::new(Scope {
            persistence: self.persistence.clone(),
            parents,
            epoch: head.epoch,
            task_id: planned.task_id,
            durability: self.durability,
            recursion_limit: self.recursion_limit,
            events: self.events.clone(),
            store: self.store.clone(),
            budget: self.budget.clone(),
            reached: Mutex::new(None),
        }))
    }
}
