//! Two operating-system processes advance one thread on every backend, each drawing its
//! checkpoint ids from its own clock: the history, listed newest first, is exactly the chain of
//! parent links, holding every checkpoint either process reported — a child always sorts after
//! its parent, even one drawn in the same millisecond by the other process.
//!
//! The child processes are this test binary itself, run with `ORDER_CHILD` set so that only
//! `child_process` does anything.

#[path = "support/backends.rs"]
mod backends;

use backends::{Backend, pair, run_child, run_name, start_soon, tempdir, wait_until};
use stategraph::testing::fixtures::{checkpoint, child};
use stategraph::{CheckpointError, CheckpointId, Checkpointer, ListQuery, ThreadId};

const PUTS: usize = 25;
const ORDER_CHILD: &str = "STATEGRAPH_ORDER_CHILD";
const ORDER_BACKEND: &str = "STATEGRAPH_ORDER_BACKEND";
const ORDER_PLACE: &str = "STATEGRAPH_ORDER_PLACE";
const ORDER_THREAD: &str = "STATEGRAPH_ORDER_THREAD";
const ORDER_START: &str = "STATEGRAPH_ORDER_START_MICROS";

/// In a child: from the agreed instant, advances the thread `PUTS` times, each time from its
/// latest checkpoint (reading again after a conflict), printing each checkpoint it stored.
#[test]
fn child_process() {
    let Ok(name) = std::env::var(ORDER_CHILD) else {
        return; // Not a child: nothing to do.
    };
    let backend = Backend::from_name(&std::env::var(ORDER_BACKEND).unwrap());
    let place = std::env::var(ORDER_PLACE).unwrap();
    let thread = ThreadId::new(std::env::var(ORDER_THREAD).unwrap());
    let start: u128 = std::env::var(ORDER_START).unwrap().parse().unwrap();
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(async {
            let saver = backend.open(&place).await.unwrap();
            wait_until(start).await;
            for _ in 0..PUTS {
                loop {
                    let head = saver.get(&thread, "", None).await.unwrap().unwrap();
                    match child(&head.checkpoint)
                        .user("by", name.as_str())
                        .put(&*saver)
                        .await
                    {
                        Ok(stored) => {
                            println!("\nPUT {}", stored.id);
                            break;
                        }
                        Err(CheckpointError::Conflict { .. }) => continue,
                        Err(other) => panic!("{name}: {other}"),
                    }
                }
            }
        });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_advancing_one_thread_keep_history_in_chain_order_on_every_backend() {
    let dir = tempdir("order");
    for backend in Backend::ALL {
        std::fs::create_dir_all(dir.join(backend.name())).unwrap();
        let place = backend.place(&dir.join(backend.name()));
        let Some([saver, _]) = pair(backend, &place).await else {
            continue;
        };
        let thread = ThreadId::new(format!("{}-order-{}", backend.name(), run_name()));
        let root = checkpoint(&thread, "").put_ok(&*saver).await;
        let start = start_soon();
        let children = ["ana", "ben"].map(|name| {
            run_child(
                "child_process",
                vec![
                    (ORDER_CHILD, name.to_owned()),
                    (ORDER_BACKEND, backend.name().to_owned()),
                    (ORDER_PLACE, place.clone()),
                    (ORDER_THREAD, thread.as_str().to_owned()),
                    (ORDER_START, start.to_string()),
                ],
            )
        });
        let mut reported: Vec<CheckpointId> = vec![root.id];
        for stdout in futures::future::join_all(children).await {
            reported.extend(
                stdout
                    .lines()
                    .filter_map(|l| l.strip_prefix("PUT "))
                    .map(|id| id.parse::<CheckpointId>().unwrap()),
            );
        }
        assert_eq!(reported.len(), 1 + 2 * PUTS, "{}", backend.name());
        let history = saver
            .list(&ListQuery::thread(thread.clone()))
            .await
            .unwrap();
        for pair in history.windows(2) {
            assert_eq!(
                pair[0].checkpoint.parent_id,
                Some(pair[1].checkpoint.id),
                "{}: each checkpoint is listed right before its parent",
                backend.name()
            );
        }
        let mut listed: Vec<CheckpointId> = history.iter().map(|t| t.checkpoint.id).collect();
        listed.sort();
        reported.sort();
        assert_eq!(
            listed,
            reported,
            "{}: one line of exactly the reported puts",
            backend.name()
        );
        saver.delete_thread(&thread).await.unwrap();
    }
    std::fs::remove_dir_all(&dir).ok();
}
