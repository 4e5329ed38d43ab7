//! The server restarts while graphs run (a private instance, never the shared server). A
//! restart of a few seconds — fast or immediate, under many concurrent threads — fails no run:
//! operations whose connection broke are retried with backoff up to the retry deadline. A
//! server down for longer fails the run with a clear error, and a resume completes to the state
//! an uninterrupted run reaches, with nothing lost or repeated.

mod support;

use std::time::Duration;

use stategraph_postgres::PostgresSaver;
use support::PrivatePostgres;
use support::slow_loop::{input, slow};

const STEPS: u32 = 20;

fn uninterrupted() -> Vec<String> {
    (0..STEPS).map(|i| format!("step {i}")).collect()
}

/// Runs 20 threads of the slow loop, restarts the server with `restart` half a second in, and
/// checks that every run completed as if nothing had happened.
async fn ride_over(restart: fn(&PrivatePostgres)) {
    let Some(server) = PrivatePostgres::start() else {
        return;
    };
    let saver = PostgresSaver::builder(server.url.clone())
        .pool_size(8)
        .connect_timeout(Duration::from_secs(2))
        .connect()
        .await
        .unwrap();
    let graph = slow::graph().checkpointer(saver).compile().unwrap();
    let runs: Vec<_> = (0..20)
        .map(|i| {
            let thread = graph.thread(format!("restarted-{i}"));
            tokio::spawn(async move {
                thread
                    .invoke(input(STEPS, 60))
                    .await
                    .and_then(stategraph_runtime::Outcome::into_finished)
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let server = tokio::task::spawn_blocking(move || {
        restart(&server);
        server
    })
    .await
    .unwrap();
    for (i, run) in runs.into_iter().enumerate() {
        let state = run
            .await
            .unwrap()
            .unwrap_or_else(|e| panic!("run {i} should ride over the restart: {e}"));
        assert_eq!(state.log, uninterrupted(), "run {i}");
        let history = graph
            .thread(format!("restarted-{i}"))
            .history()
            .await
            .unwrap();
        assert_eq!(history.len(), STEPS as usize + 1, "input + one per step");
    }
    drop(server);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fast_restart_under_twenty_threads_fails_no_run() {
    ride_over(PrivatePostgres::restart).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_immediate_restart_under_twenty_threads_fails_no_run() {
    ride_over(PrivatePostgres::restart_immediate).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_retries_off_a_restart_is_a_clear_error_and_resume_completes() {
    let Some(server) = PrivatePostgres::start() else {
        return;
    };
    let saver = PostgresSaver::builder(server.url.clone())
        .pool_size(2)
        .connect_timeout(Duration::from_secs(2))
        .retry_deadline(Duration::ZERO)
        .connect()
        .await
        .unwrap();
    let graph = slow::graph().checkpointer(saver).compile().unwrap();
    let thread = graph.thread("restarted");
    let run = {
        let thread = graph.thread("restarted");
        tokio::spawn(async move {
            thread
                .invoke(input(STEPS, 60))
                .await
                .and_then(stategraph_runtime::Outcome::into_finished)
        })
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
            let state = thread
                .resume()
                .await
                .and_then(stategraph_runtime::Outcome::into_finished)
                .unwrap();
            assert_eq!(state.log, uninterrupted());
            assert_eq!(state.count, STEPS);
        }
        // The one immediate retry on a new connection can land after the restart.
        Ok(state) => assert_eq!(state.log, uninterrupted()),
    }
    let history = thread.history().await.unwrap();
    assert_eq!(history.len(), STEPS as usize + 1, "input + one per step");
    drop(server);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_down_past_the_deadline_fails_the_run_and_resume_completes_after() {
    let Some(server) = PrivatePostgres::start() else {
        return;
    };
    let saver = PostgresSaver::builder(server.url.clone())
        .pool_size(2)
        .connect_timeout(Duration::from_secs(1))
        .retry_deadline(Duration::from_secs(2))
        .connect()
        .await
        .unwrap();
    let graph = slow::graph().checkpointer(saver).compile().unwrap();
    let thread = graph.thread("down");
    let run = {
        let thread = graph.thread("down");
        tokio::spawn(async move {
            thread
                .invoke(input(STEPS, 60))
                .await
                .and_then(stategraph_runtime::Outcome::into_finished)
        })
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
    let state = thread
        .resume()
        .await
        .and_then(stategraph_runtime::Outcome::into_finished)
        .unwrap();
    assert_eq!(state.log, uninterrupted());
    drop(server);
}
