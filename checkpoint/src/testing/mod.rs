//! The checkpointer conformance kit: the whole [`Checkpointer`] contract as executable cases,
//! runnable against any backend — the built-in ones and your own. The runtime's
//! `stategraph_runtime::checkpointer_conformance!` (and the facade's) runs these cases and then
//! the ones only the runtime can check: checkpoints read back as a typed state.
//!
//! Enable the `testing` feature (of `stategraph` or `stategraph-checkpoint`) in your
//! `[dev-dependencies]` and invoke [`checkpointer_conformance!`](crate::checkpointer_conformance)
//! once in an integration test, with an async expression that makes a fresh saver:
//!
//! ```
//! // tests/conformance.rs of your backend crate, with your saver in place of MemorySaver
//! use stategraph_checkpoint::MemorySaver;
//!
//! stategraph_checkpoint::checkpointer_conformance!(async { MemorySaver::new() });
//! # fn main() {}
//! ```
//!
//! That expands to a module `checkpointer_conformance` with one test per case, named
//! `checkpointer_conformance::<topic>::<case>` (for example
//! `checkpointer_conformance::put::incremental_channel_update`), each making a fresh saver,
//! calling [`Checkpointer::setup`] (which must be idempotent) and running the case. To run the
//! kit from one test instead, call [`run_all`] and assert on its [`Report`]:
//!
//! ```
//! # fn main() {
//! # stategraph_checkpoint::testing::block_on(async {
//! use stategraph_checkpoint::MemorySaver;
//! let report = stategraph_checkpoint::testing::run_all(|| async { MemorySaver::new() }).await;
//! report.assert_passed();
//! # });
//! # }
//! ```
//!
//! Each case is also a public async function (`testing::put::roundtrip(&saver).await`) that
//! panics, with a message saying what was expected, when the backend breaks the contract.
//!
//! Cases use fresh random thread ids and never assume the store is empty, so one database
//! shared by many tests (or by parallel test binaries) does not make them collide: a listing
//! across every thread is filtered to the threads the case created before it is checked.

use std::any::Any;
use std::future::Future;
use std::panic::AssertUnwindSafe;

use futures::FutureExt;

use crate::Checkpointer;

pub mod cache;
pub mod concurrency;
pub mod conflict;
pub mod copy;
pub mod delete;
pub mod fencing;
pub mod fixtures;
pub mod get;
pub mod limits;
pub mod list;
pub mod metadata;
pub mod prune;
pub mod put;
pub mod put_writes;
pub mod retention;
pub mod setup;
pub mod store;
pub mod threads;

/// Lists every conformance case once, by topic, and hands the list to the named callback macro.
/// The single source of the case list: the generated tests, [`run_all`] and [`CASES`] all
/// expand from it.
#[doc(hidden)]
#[macro_export]
macro_rules! __checkpointer_conformance_cases {
    ($callback:ident { $($args:tt)* }) => {
        $crate::$callback! {
            { $($args)* }
            setup {
                idempotent,
            }
            put {
                returns_config,
                roundtrip,
                preserves_channel_values,
                preserves_channel_versions,
                preserves_next_and_barriers,
                preserves_metadata,
                preserves_run_id,
                preserves_parents_and_writes_metadata,
                root_namespace,
                child_namespace,
                multiple_checkpoints_same_thread,
                multiple_threads_isolated,
                parent_id,
                incremental_channel_update,
                new_channel_added,
                channel_removed,
                unchanged_channel_loads_through_old_version,
                existing_blob_is_kept,
                empty_checkpoint,
                created_at_round_trips,
                created_at_is_not_restamped,
                large_value_round_trips,
                id_not_after_parent_is_refused,
                history_follows_parents_when_a_parent_is_ahead,
            }
            put_writes {
                basic,
                multiple_writes_same_task,
                multiple_tasks,
                preserves_task_id_and_node,
                preserves_channel_and_value,
                idempotent,
                regular_write_is_insert_or_ignore,
                error_write_replaces_earlier,
                special_channels,
                interrupt_and_answers_replace_by_index,
                across_namespaces,
                cleared_on_next_checkpoint,
                ordered_by_task_and_index,
                accumulate_across_calls,
                empty_batch,
            }
            get {
                nonexistent_thread_returns_none,
                latest_when_no_id,
                specific_id,
                nonexistent_id_returns_none,
                id_from_another_namespace_returns_none,
                id_from_another_thread_returns_none,
                checkpoint_fields,
                metadata,
                parent_id,
                pending_writes,
                respects_namespace,
                channels_follow_versions,
                delta_chain_in_order,
                delta_chain_after_new_snapshot,
            }
            list {
                all,
                by_thread,
                by_namespace,
                ordering,
                filter_single_key,
                filter_step,
                filter_multiple_keys,
                filter_no_match,
                filter_custom_keys,
                before,
                limit,
                limit_plus_before,
                thread_and_filter,
                empty_result,
                includes_pending_writes,
                includes_channels,
                multiple_namespaces,
                no_thread_spans_threads,
                limit_zero,
                filter_matrix,
            }
            metadata {
                reserved_key_source,
                reserved_key_step,
                reserved_key_parents,
                reserved_key_writes,
                reserved_key_failures,
                failures_round_trip,
                reserved_key_subgraphs,
                subgraph_links_round_trip,
                reserved_key_state_version,
                reserved_key_token_usage,
                token_usage_round_trips,
                state_version_round_trips,
                reserved_key_stores_nothing,
                filter_injection_no_match,
                filter_injection_literal_key,
                filter_nul_byte_key,
                filter_long_key,
                filter_unicode_key,
                filter_json_values,
                filter_type_strict,
                nested_user_values_round_trip,
            }
            delete {
                removes_checkpoints,
                removes_writes,
                removes_all_namespaces,
                preserves_other_threads,
                nonexistent_is_noop,
                thread_is_reusable,
            }
            copy {
                basic,
                keeps_ids_and_values,
                preserves_metadata,
                preserves_namespaces,
                preserves_writes,
                preserves_ordering,
                source_unchanged,
                nonexistent_source,
                preserves_delta_chains,
                into_existing_thread_fails,
                copy_is_independent,
            }
            prune {
                keep_latest_single_thread,
                keep_latest_multiple_threads,
                keep_latest_across_namespaces,
                keep_latest_keeps_writes,
                keep_latest_keeps_delta_chain,
                keep_latest_then_advance,
                delete_removes_all,
                other_threads_untouched,
                empty_list_is_noop,
                nonexistent_thread_is_noop,
            }
            threads {
                status_finished_and_pending,
                head_is_latest_root,
                subgraph_checkpoints_do_not_move_head,
                paging_after_and_limit,
                updated_before,
                status_filter,
                metadata_filter,
                status_interrupted_and_errored,
                status_expired,
                deleted_thread_disappears,
            }
            retention {
                deletes_finished_and_keeps_latest_of_old,
            }
            cache {
                round_trip,
                put_replaces,
                expired_entries_are_not_returned,
                bad_keys_are_refused,
            }
            conflict {
                stale_parent_conflicts,
                stale_parent_stores_nothing,
                first_put_on_existing_thread_conflicts,
                missing_parent_in_advance_conflicts,
                conflict_is_per_namespace,
                fork_from_older_becomes_latest,
                fork_missing_parent,
                fork_without_parent,
                concurrent_advance_exactly_one_wins,
            }
            limits {
                longest_thread_id_round_trips,
                odd_ids_round_trip,
                bad_thread_ids_are_refused,
                namespace_limits,
                name_limits,
                metadata_limits,
                value_depth_limits,
                numbers_round_trip_exactly,
            }
            fencing {
                claims_grow,
                stale_epoch_is_fenced_and_stores_nothing,
                unclaimed_thread_refuses_epochs,
                delete_forgets_the_owner,
                copy_does_not_carry_the_owner,
                racing_owners_exactly_one_wins,
                concurrent_claims_are_distinct,
                epoch_reads_the_last_claim,
                claim_if_from_the_current_epoch_stores_its_writes,
                claim_if_from_another_epoch_changes_nothing,
                racing_conditional_claims_exactly_one_wins,
                delete_thread_if_only_from_the_current_epoch,
            }
            concurrency {
                puts_to_many_threads,
                put_writes_to_many_threads,
                concurrent_writes_same_checkpoint,
            }
        }
    };
}

/// Generates one `#[test]` per case (the expansion of [`checkpointer_conformance!`]).
#[doc(hidden)]
#[macro_export]
macro_rules! __checkpointer_conformance_tests {
    ({} $( $topic:ident { $($case:ident),* $(,)? } )*) => {
        $(
            mod $topic {
                $(
                    #[test]
                    fn $case() {
                        $crate::testing::block_on(async {
                            let saver = super::__conformance_saver().await;
                            $crate::testing::prepare(&saver).await;
                            $crate::testing::$topic::$case(&saver).await;
                        })
                    }
                )*
            }
        )*
    };
}

/// Runs every case in sequence, recording failures (the body of [`run_all`]).
#[doc(hidden)]
#[macro_export]
macro_rules! __checkpointer_conformance_run {
    ({ $factory:ident $report:ident } $( $topic:ident { $($case:ident),* $(,)? } )*) => {
        $( $(
            // Boxed, so the whole run's future holds one case at a time, not every case's.
            $report
                .record(
                    concat!(stringify!($topic), "::", stringify!($case)),
                    ::std::boxed::Box::pin(async {
                        let saver = $factory().await;
                        $crate::testing::prepare(&saver).await;
                        $crate::testing::$topic::$case(&saver).await;
                    }),
                )
                .await;
        )* )*
    };
}

/// The names of the cases (the expansion behind [`CASES`]).
#[doc(hidden)]
#[macro_export]
macro_rules! __checkpointer_conformance_names {
    ({} $( $topic:ident { $($case:ident),* $(,)? } )*) => {
        &[ $( $( concat!(stringify!($topic), "::", stringify!($case)), )* )* ]
    };
}

/// Generates the conformance tests for a checkpointer: a module `checkpointer_conformance`
/// with one `#[test]` per case (`checkpointer_conformance::put::roundtrip`, ...).
///
/// The argument is an async expression evaluated once per test, on that test's tokio runtime,
/// to a fresh saver (anything implementing [`Checkpointer`](crate::Checkpointer), including
/// `Arc<dyn Checkpointer>`). The kit calls `setup()` on it, then runs the case. Names the
/// expression uses resolve in the module that invokes the macro.
///
/// ```
/// // A backend's tests/conformance.rs: one test per case, each on a fresh saver.
/// stategraph_checkpoint::checkpointer_conformance!(async { stategraph_checkpoint::MemorySaver::new() });
/// # fn main() {}
/// ```
///
/// Each test runs on its own multi-threaded tokio runtime, so the crate invoking the macro
/// needs no tokio dependency of its own. To invoke it twice in one file (two configurations),
/// wrap each invocation in its own module.
#[macro_export]
macro_rules! checkpointer_conformance {
    ($factory:expr $(,)?) => {
        #[allow(unused_imports, non_snake_case, clippy::all)]
        mod checkpointer_conformance {
            use super::*;

            async fn __conformance_saver() -> impl $crate::Checkpointer {
                $factory.await
            }

            $crate::__checkpointer_conformance_cases!(__checkpointer_conformance_tests {});
        }
    };
}

/// Every case, as `topic::case`, in the order [`run_all`] runs them.
pub const CASES: &[&str] =
    crate::__checkpointer_conformance_cases!(__checkpointer_conformance_names {});

/// Runs every case in sequence, each against a fresh saver from `factory`, and reports which
/// failed. A case fails by panicking; the panic is caught and its message recorded.
pub async fn run_all<C, F, Fut>(mut factory: F) -> Report
where
    C: Checkpointer,
    F: FnMut() -> Fut,
    Fut: Future<Output = C>,
{
    let mut report = Report::default();
    crate::__checkpointer_conformance_cases!(__checkpointer_conformance_run { factory report });
    report
}

/// What [`run_all`] found.
#[derive(Debug, Default, Clone)]
pub struct Report {
    /// The cases that passed, as `topic::case`.
    pub passed: Vec<&'static str>,
    /// The cases that failed, with their panic messages.
    pub failed: Vec<Failure>,
}

/// One failed case.
#[derive(Debug, Clone)]
pub struct Failure {
    /// The case, as `topic::case`.
    pub case: &'static str,
    /// What the case expected and found.
    pub message: String,
}

impl Report {
    /// Whether every case passed.
    pub fn all_passed(&self) -> bool {
        self.failed.is_empty()
    }

    /// Panics, listing every failure, unless every case passed.
    #[track_caller]
    pub fn assert_passed(&self) {
        if !self.failed.is_empty() {
            let list: Vec<String> = self
                .failed
                .iter()
                .map(|f| format!("- {}: {}", f.case, f.message))
                .collect();
            panic!(
                "{} of {} conformance cases failed:\n{}",
                self.failed.len(),
                self.failed.len() + self.passed.len(),
                list.join("\n")
            );
        }
    }

    /// Runs one case, catching its panic.
    #[doc(hidden)]
    pub async fn record(&mut self, case: &'static str, run: impl Future<Output = ()>) {
        match AssertUnwindSafe(run).catch_unwind().await {
            Ok(()) => self.passed.push(case),
            Err(panic) => self.failed.push(Failure {
                case,
                message: panic_message(panic.as_ref()),
            }),
        }
    }
}

fn panic_message(panic: &(dyn Any + Send)) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else {
        "the case panicked with a non-string payload".to_owned()
    }
}

/// Runs `future` to completion on a fresh multi-threaded tokio runtime with every driver
/// enabled: what each generated test does.
pub fn block_on<F: Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .expect("the conformance kit could not start a tokio runtime")
        .block_on(future)
}

/// Prepares a fresh saver for a case: calls `setup()`, which the contract requires to be
/// idempotent (the factory may have called it already).
pub async fn prepare<C: Checkpointer + ?Sized>(saver: &C) {
    if let Err(e) = saver.setup().await {
        panic!("setup() must succeed on a fresh saver (and be idempotent), but failed: {e}");
    }
}
