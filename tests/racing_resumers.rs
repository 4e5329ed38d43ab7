//! Several resumers answer one pause at the same instant, on every backend: exactly one
//! completes the step with its answer, every other gets one typed refusal that tells the truth
//! (`AlreadyAnswered` while the winner's step runs, `NothingPending` once it ran on), and the
//! thread never needs a third resume. In one process with two savers that share nothing, and
//! in two operating-system processes. And an expiry sweep racing a resume never expires (or
//! deletes) the thread the resume finished.
//!
//! The child processes are this test binary itself, run with `RACE_CHILD` set so that only
//! `child_process` does anything.

#[path = "support/backends.rs"]
mod backends;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use backends::{Backend, pair, run_child, run_name, start_soon, tempdir, wait_until};
use serde::{Deserialize, Serialize};
use stategraph::{
    AfterExpiry, CheckpointError, CheckpointId, CheckpointTuple, Checkpointer, Epoch, ExpirePaused,
    GraphError, ListQuery, MemorySaver, NewCheckpoint, NodeContext, NodeResult, PendingWrite,
    Prune, Resume, State, ThreadId, ThreadInfo, ThreadQuery, ThreadStatus, expire_paused,
};

#[derive(State, Clone, Debug, Default, Serialize, Deserialize)]
struct Ask {
    answer: String,
}

#[stategraph::graph(state = Ask)]
mod asking {
    use super::*;

    #[node]
    async fn ask(_: &Ask, ctx: &NodeContext) -> NodeResult<Ask> {
        let answer: String = ctx.interrupt("who approves?").await?;
        Ok(AskUpdate::new().answer(answer))
    }

    edges! {
        START -> ask -> END;
    }
}

const ROUNDS: usize = 100;
const RACE_CHILD: &str = "STATEGRAPH_RACE_CHILD";
const RACE_BACKEND: &str = "STATEGRAPH_RACE_BACKEND";
const RACE_PLACE: &str = "STATEGRAPH_RACE_PLACE";
const RACE_START: &str = "STATEGRAPH_RACE_START_MICROS";
const RACE_RUN: &str = "STATEGRAPH_RACE_RUN";

/// The thread of round `round` of run `run` on `backend`.
fn thread_id(run: &str, backend: &str, round: usize) -> String {
    format!("{backend}-race-{run}-{round}")
}

type Graph = asking::Compiled;

fn graph(saver: Arc<dyn Checkpointer>) -> Graph {
    asking::graph().checkpointer(saver).compile().unwrap()
}

/// Pauses thread `id` at its question.
async fn pause(graph: &Graph, id: &str) {
    let asked = graph
        .thread(id)
        .invoke(AskUpdate::new())
        .await
        .and_then(stategraph::Outcome::into_finished);
    assert!(
        matches!(asked, Err(GraphError::Interrupted { .. })),
        "{id}: {asked:?}"
    );
}

/// How one resume ended, as the race judges it (not a run's `stategraph::Outcome`).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Verdict {
    Won(String),
    AlreadyAnswered,
    NothingPending,
}

fn outcome(result: Result<Ask, GraphError>) -> Verdict {
    match result {
        Ok(state) => Verdict::Won(state.answer),
        Err(GraphError::AlreadyAnswered(_)) => Verdict::AlreadyAnswered,
        Err(GraphError::NothingPending(_)) => Verdict::NothingPending,
        Err(other) => panic!("a losing resume gets a typed refusal, got {other}"),
    }
}

/// Exactly one of `outcomes` won, and thread `id` finished with the winner's answer.
async fn judge(graph: &Graph, id: &str, outcomes: &[Verdict]) {
    let winners: Vec<&String> = outcomes
        .iter()
        .filter_map(|o| match o {
            Verdict::Won(answer) => Some(answer),
            _ => None,
        })
        .collect();
    assert_eq!(
        winners.len(),
        1,
        "{id}: exactly one resume wins: {outcomes:?}"
    );
    let state = graph.thread(id).state().await.unwrap().unwrap();
    assert_eq!(
        state.status,
        ThreadStatus::Finished,
        "{id}: no third resume"
    );
    assert_eq!(
        &state.values.answer, winners[0],
        "{id}: the winner's answer"
    );
    assert_eq!(state.metadata.answers.len(), 1, "{id}: one answer recorded");
}

async fn race_in_one_process(backend_name: &str, savers: [Arc<dyn Checkpointer>; 2]) {
    let cleanup = savers[0].clone();
    let [first, second] = savers.map(graph);
    let run = run_name();
    for round in 0..ROUNDS {
        let id = thread_id(&run, backend_name, round);
        pause(&first, &id).await;
        let (a, b) = (first.thread(id.as_str()), second.thread(id.as_str()));
        let (ra, rb) = tokio::join!(
            tokio::spawn(async move {
                a.resume_with(Resume::value("ana"))
                    .await
                    .and_then(stategraph::Outcome::into_finished)
            }),
            tokio::spawn(async move {
                b.resume_with(Resume::value("ben"))
                    .await
                    .and_then(stategraph::Outcome::into_finished)
            }),
        );
        let outcomes = [outcome(ra.unwrap()), outcome(rb.unwrap())];
        judge(&first, &id, &outcomes).await;
        cleanup.delete_thread(&id.as_str().into()).await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_savers_answering_one_pause_exactly_one_wins_on_every_backend() {
    let dir = tempdir("one-process");
    race_in_one_process("memory", {
        let shared: Arc<dyn Checkpointer> = Arc::new(MemorySaver::new());
        [shared.clone(), shared]
    })
    .await;
    for backend in Backend::ALL {
        std::fs::create_dir_all(dir.join(backend.name())).unwrap();
        let place = backend.place(&dir.join(backend.name()));
        if let Some(savers) = pair(backend, &place).await {
            race_in_one_process(backend.name(), savers).await;
        }
    }
    std::fs::remove_dir_all(&dir).ok();
}

/// In a child: waits for the agreed instant, then answers every paused thread in turn with its
/// own name, printing how each resume ended.
#[test]
fn child_process() {
    let Ok(name) = std::env::var(RACE_CHILD) else {
        return; // Not a child: nothing to do.
    };
    let backend = Backend::from_name(&std::env::var(RACE_BACKEND).unwrap());
    let place = std::env::var(RACE_PLACE).unwrap();
    let run = std::env::var(RACE_RUN).unwrap();
    let start: u128 = std::env::var(RACE_START).unwrap().parse().unwrap();
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
        .block_on(async {
            let graph = graph(backend.open(&place).await.unwrap());
            wait_until(start).await;
            for round in 0..ROUNDS {
                let id = thread_id(&run, backend.name(), round);
                let result = graph
                    .thread(id.as_str())
                    .resume_with(Resume::value(&name))
                    .await
                    .and_then(stategraph::Outcome::into_finished);
                println!("RESULT {round} {:?}", outcome(result));
            }
        });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_answering_one_pause_exactly_one_wins_on_every_backend() {
    let dir = tempdir("processes");
    for backend in Backend::ALL {
        std::fs::create_dir_all(dir.join(backend.name())).unwrap();
        let place = backend.place(&dir.join(backend.name()));
        let Some([saver, _]) = pair(backend, &place).await else {
            continue;
        };
        let parent = graph(saver.clone());
        let run = run_name();
        for round in 0..ROUNDS {
            pause(&parent, &thread_id(&run, backend.name(), round)).await;
        }
        let start = start_soon();
        let children = ["ana", "ben"].map(|name| {
            run_child(
                "child_process",
                vec![
                    (RACE_CHILD, name.to_owned()),
                    (RACE_BACKEND, backend.name().to_owned()),
                    (RACE_PLACE, place.clone()),
                    (RACE_RUN, run.clone()),
                    (RACE_START, start.to_string()),
                ],
            )
        });
        let mut outcomes = vec![Vec::new(); ROUNDS];
        for stdout in futures::future::join_all(children).await {
            // The first result shares its line with the harness's "test child_process ...".
            for line in stdout
                .lines()
                .filter_map(|l| Some(l.split_once("RESULT ")?.1))
            {
                let (round, outcome) = line.split_once(' ').unwrap();
                let outcome = match outcome {
                    "AlreadyAnswered" => Verdict::AlreadyAnswered,
                    "NothingPending" => Verdict::NothingPending,
                    won => Verdict::Won(
                        won.trim_start_matches("Won(\"")
                            .trim_end_matches("\")")
                            .to_owned(),
                    ),
                };
                outcomes[round.parse::<usize>().unwrap()].push(outcome);
            }
        }
        for (round, outcomes) in outcomes.iter().enumerate() {
            assert_eq!(
                outcomes.len(),
                2,
                "{}: both children answered",
                backend.name()
            );
            let id = thread_id(&run, backend.name(), round);
            judge(&parent, &id, outcomes).await;
            saver.delete_thread(&id.as_str().into()).await.unwrap();
        }
    }
    std::fs::remove_dir_all(&dir).ok();
}

/// A checkpointer that answers a paused thread in the middle of an expiry sweep: when the
/// sweep reads thread `target`, it is given what it asked for as it was, and then the thread
/// is resumed to its end behind the sweep's back.
struct ResumedDuringSweep {
    inner: Arc<dyn Checkpointer>,
    target: ThreadId,
    resume: tokio::sync::Mutex<Option<Graph>>,
}

#[async_trait::async_trait]
impl Checkpointer for ResumedDuringSweep {
    async fn setup(&self) -> Result<(), CheckpointError> {
        self.inner.setup().await
    }
    async fn get(
        &self,
        thread_id: &ThreadId,
        ns: &str,
        id: Option<CheckpointId>,
    ) -> Result<Option<CheckpointTuple>, CheckpointError> {
        let read = self.inner.get(thread_id, ns, id).await?;
        if *thread_id == self.target
            && let Some(graph) = self.resume.lock().await.take()
        {
            let done = graph
                .thread(thread_id.clone())
                .resume_with(Resume::value("late"))
                .await
                .and_then(stategraph::Outcome::into_finished);
            assert_eq!(done.unwrap().answer, "late");
        }
        Ok(read)
    }
    async fn list(&self, query: &ListQuery) -> Result<Vec<CheckpointTuple>, CheckpointError> {
        self.inner.list(query).await
    }
    async fn claim(&self, thread_id: &ThreadId) -> Result<Epoch, CheckpointError> {
        self.inner.claim(thread_id).await
    }
    async fn epoch(&self, thread_id: &ThreadId) -> Result<Option<Epoch>, CheckpointError> {
        self.inner.epoch(thread_id).await
    }
    async fn claim_if(
        &self,
        thread_id: &ThreadId,
        expected: Option<Epoch>,
        ns: &str,
        id: CheckpointId,
        writes: Vec<PendingWrite>,
    ) -> Result<Epoch, CheckpointError> {
        self.inner
            .claim_if(thread_id, expected, ns, id, writes)
            .await
    }
    async fn put(&self, checkpoint: NewCheckpoint) -> Result<(), CheckpointError> {
        self.inner.put(checkpoint).await
    }
    async fn put_writes(
        &self,
        thread_id: &ThreadId,
        ns: &str,
        id: CheckpointId,
        writes: Vec<PendingWrite>,
        epoch: Option<Epoch>,
    ) -> Result<(), CheckpointError> {
        self.inner
            .put_writes(thread_id, ns, id, writes, epoch)
            .await
    }
    async fn delete_thread(&self, thread_id: &ThreadId) -> Result<(), CheckpointError> {
        self.inner.delete_thread(thread_id).await
    }
    async fn delete_thread_if(
        &self,
        thread_id: &ThreadId,
        expected: Option<Epoch>,
    ) -> Result<(), CheckpointError> {
        self.inner.delete_thread_if(thread_id, expected).await
    }
    async fn copy_thread(&self, from: &ThreadId, to: &ThreadId) -> Result<(), CheckpointError> {
        self.inner.copy_thread(from, to).await
    }
    async fn prune(&self, thread_ids: &[ThreadId], policy: Prune) -> Result<(), CheckpointError> {
        self.inner.prune(thread_ids, policy).await
    }
    async fn list_threads(&self, query: &ThreadQuery) -> Result<Vec<ThreadInfo>, CheckpointError> {
        self.inner.list_threads(query).await
    }
    async fn cache_get(&self, key: &str) -> Result<Option<Vec<u8>>, CheckpointError> {
        self.inner.cache_get(key).await
    }
    async fn cache_put(
        &self,
        key: &str,
        value: Vec<u8>,
        ttl: Option<Duration>,
    ) -> Result<(), CheckpointError> {
        self.inner.cache_put(key, value, ttl).await
    }
}

/// The expiry sweep decides on a paused thread, which is then answered and runs to its end
/// before the sweep acts: with every policy, on every backend, the finished thread is left as
/// it is — not deleted, not marked expired.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thread_resumed_during_an_expiry_sweep_is_left_alone_on_every_backend() {
    let dir = tempdir("sweep");
    let mut savers: Vec<(&str, Arc<dyn Checkpointer>)> =
        vec![("memory", Arc::new(MemorySaver::new()))];
    for backend in Backend::ALL {
        std::fs::create_dir_all(dir.join(backend.name())).unwrap();
        if let Some([saver, _]) = pair(backend, &backend.place(&dir.join(backend.name()))).await {
            savers.push((backend.name(), saver));
        }
    }
    let run = run_name();
    for (name, saver) in savers {
        for then in [AfterExpiry::Delete, AfterExpiry::Keep, AfterExpiry::Prune] {
            let id = ThreadId::new(format!("{name}-sweep-{then:?}-{run}"));
            let direct = graph(saver.clone());
            pause(&direct, id.as_str()).await;
            let meddling = ResumedDuringSweep {
                inner: saver.clone(),
                target: id.clone(),
                resume: tokio::sync::Mutex::new(Some(graph(saver.clone()))),
            };
            let policy = ExpirePaused::after(Duration::from_secs(60)).then(then);
            let later = SystemTime::now() + Duration::from_secs(3600);
            let expired = expire_paused(&meddling, &policy, later, false)
                .await
                .unwrap();
            assert!(
                !expired.contains(&id),
                "{name}, {then:?}: a thread answered meanwhile is not expired"
            );
            let state = direct.thread(id.clone()).state().await.unwrap();
            let state = state.unwrap_or_else(|| panic!("{name}, {then:?}: the thread was deleted"));
            assert_eq!(state.status, ThreadStatus::Finished, "{name}, {then:?}");
            assert_eq!(state.values.answer, "late");
            saver.delete_thread(&id).await.unwrap();
        }
    }
    std::fs::remove_dir_all(&dir).ok();
}
