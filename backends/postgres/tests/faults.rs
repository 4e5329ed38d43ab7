//! The server restarts while a graph runs (a private instance, never the shared server): the
//! run fails with a clear error or rides over it on a new connection, and a resume completes
//! to the state an uninterrupted run reaches, with nothing lost or repeated.

mod support;

use std::time::Duration;

use stategraph_postgres::PostgresSaver;
use support::PrivatePostgres;
use support::slow_loop::{input, slow};

const STEPS: u32 = 20;

fn uninterrupted() -> Vec<String> {
    (0..STEPS).map(|i| format!("step {i}")).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_restart_mid_run_is_a_clear_error_and_resume_completes() {
    let Some(server) = PrivatePostgres::start() else {
        return;
    };
    let saver = PostgresSaver::builder(server.url.clone())
        .pool_size(2)
        .connect_timeout(Duration::from_secs(2))
        .connect()
        .await
        .unwrap();
    let graph = slow::graph().checkpointer(saver).compile().unwrap();
    let thread = graph.thread("restarted");
    let run = {
        let thread = graph.thread("restarted");
        tokio::spawn(async move { thread.invoke(input(STEPS, 60)).await })
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    let server = tokio::task::spawn_blocking(move || {
        server.restart();
        server
    })
    .await
    .unwrap();
    match run.await.unwrap() {
        Err(error) => {
            let text = error.to_string();
            assert!(text.contains("PostgreSQL"), "{text}");
            assert!(
                text.contains(&format!("127.0.0.1:{}", server.port)),
                "{text}"
            );
            assert!(
                text.contains("restarted"),
                "the error names the thread: {text}"
            );
            eprintln!("the run failed as expected: {text}");
            let state = thread.resume().await.unwrap();
            assert_eq!(state.log, uninterrupted());
            assert_eq!(state.count, STEPS);
        }
        Ok(state) => {
            eprintln!("the run rode over the restart on a new connection");
            assert_eq!(state.log, uninterrupted());
        }
    }
    let history = thread.history().await.unwrap();
    assert_eq!(history.len(), STEPS as usize + 1, "input + one per step");
    drop(server);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_down_for_a_while_fails_the_run_and_resume_completes_after() {
    let Some(server) = PrivatePostgres::start() else {
        return;
    };
    let saver = PostgresSaver::builder(server.url.clone())
        .pool_size(2)
        .connect_timeout(Duration::from_secs(1))
        .connect()
        .await
        .unwrap();
    let graph = slow::graph().checkpointer(saver).compile().unwrap();
    let thread = graph.thread("down");
    let run = {
        let thread = graph.thread("down");
        tokio::spawn(async move { thread.invoke(input(STEPS, 60)).await })
    };
    tokio::time::sleep(Duration::from_millis(400)).await;
    let server = tokio::task::spawn_blocking(move || {
        server.stop();
        server
    })
    .await
    .unwrap();
    let error = run.await.unwrap().expect_err("the server is down");
    let text = error.to_string();
    assert!(
        text.contains(&format!("127.0.0.1:{}", server.port)),
        "{text}"
    );
    let server = tokio::task::spawn_blocking(move || {
        server.start_again();
        server
    })
    .await
    .unwrap();
    let state = thread.resume().await.unwrap();
    assert_eq!(state.log, uninterrupted());
    drop(server);
}
