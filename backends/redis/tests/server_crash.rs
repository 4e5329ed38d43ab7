//! The Redis *server* killed with SIGKILL mid-thread: with `appendonly yes` and
//! `appendfsync always`, a restart on the same directory brings back every checkpoint and the
//! thread resumes to the state an uninterrupted run reaches. Without the append-only file,
//! `setup()` refuses the server in the first place.

#[path = "../../../benches/support/loop_graph.rs"]
mod loop_graph;
mod support;

use loop_graph::{LoopState, looping};
use stategraph::Checkpointer;
use stategraph_redis::RedisSaver;
use stategraph_runtime::{ListQuery, ThreadId};
use support::RedisServer;

const STEPS: u32 = 20;
const BEFORE_CRASH: usize = 7;

/// The final state of a run that never stops.
async fn uninterrupted() -> LoopState {
    let graph = looping::graph()
        .checkpointer(stategraph::MemorySaver::new())
        .compile()
        .unwrap();
    graph
        .thread("clean")
        .invoke(loop_graph::input(STEPS))
        .await
        .and_then(stategraph::Outcome::into_finished)
        .unwrap()
}

#[tokio::test]
async fn resumes_after_the_server_is_killed() {
    let mut server = RedisServer::start(&[
        "--appendonly",
        "yes",
        "--appendfsync",
        "always",
        "--save",
        "",
    ]);
    let thread = ThreadId::new("crash-me");

    // Run partway: the recursion limit stops the run after BEFORE_CRASH steps, each one
    // checkpointed before the next began.
    let saver = RedisSaver::connect(&server.url()).await.unwrap();
    let graph = looping::graph()
        .checkpointer(saver.clone())
        .recursion_limit(BEFORE_CRASH)
        .compile()
        .unwrap();
    graph
        .thread(thread.clone())
        .invoke(loop_graph::input(STEPS))
        .await
        .and_then(stategraph::Outcome::into_finished)
        .expect_err("the recursion limit stops the run partway");
    let before = saver
        .list(&ListQuery::thread(thread.clone()))
        .await
        .unwrap();
    assert!(before.len() > BEFORE_CRASH, "{} checkpoints", before.len());
    drop(graph);
    drop(saver);

    server.kill();
    server.restart();

    // A new client (as a new process would) finds every checkpoint and finishes the run.
    let saver = RedisSaver::connect(&server.url()).await.unwrap();
    let after = saver
        .list(&ListQuery::thread(thread.clone()))
        .await
        .unwrap();
    let ids = |tuples: &[stategraph::CheckpointTuple]| {
        tuples.iter().map(|t| t.checkpoint.id).collect::<Vec<_>>()
    };
    assert_eq!(
        ids(&after),
        ids(&before),
        "checkpoints lost by the server crash"
    );
    let graph = looping::graph().checkpointer(saver).compile().unwrap();
    let resumed = graph
        .thread(thread)
        .resume()
        .await
        .and_then(stategraph::Outcome::into_finished)
        .unwrap();
    let clean = uninterrupted().await;
    assert_eq!(resumed.count, clean.count);
    assert_eq!(resumed.messages, clean.messages);
    assert_eq!(resumed.count, STEPS);
}

#[tokio::test]
async fn without_aof_setup_refuses_before_anything_is_lost() {
    let server = RedisServer::start(&["--appendonly", "no", "--save", ""]);
    let error = RedisSaver::connect(&server.url())
        .await
        .expect_err("a server without AOF is refused");
    assert!(error.to_string().contains("appendonly"), "{error}");

    // What the refusal prevents: with the opt-in, a SIGKILL of the server loses the thread.
    let mut server = server;
    let saver = RedisSaver::builder(&server.url())
        .allow_volatile(true)
        .connect()
        .await
        .unwrap();
    let graph = looping::graph()
        .checkpointer(saver.clone())
        .recursion_limit(BEFORE_CRASH)
        .compile()
        .unwrap();
    let _ = graph
        .thread("volatile")
        .invoke(loop_graph::input(STEPS))
        .await
        .and_then(stategraph::Outcome::into_finished);
    assert!(
        saver
            .get(&ThreadId::new("volatile"), "", None)
            .await
            .unwrap()
            .is_some()
    );
    server.restart();
    let saver = RedisSaver::builder(&server.url())
        .allow_volatile(true)
        .connect()
        .await
        .unwrap();
    assert!(
        saver
            .get(&ThreadId::new("volatile"), "", None)
            .await
            .unwrap()
            .is_none(),
        "a server without persistence forgets everything on restart"
    );
}
