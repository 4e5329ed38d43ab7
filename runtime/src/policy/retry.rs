//! Retrying a node: [`RetryPolicy`], the wrapper that applies it, and the record of the failed
//! attempts a task saves with its writes.

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use backon::BackoffBuilder;
use serde::{Deserialize, Serialize};

use crate::checkpoint::PendingWrite;
use crate::ids::TaskId;
use crate::interrupt::InterruptError;
use crate::node::{NodeContext, NodeError, NodeFn, NodeFuture};
use crate::once::OnceError;
use crate::state::State;

/// Which errors a policy retries.
type RetryOn = Arc<dyn Fn(&NodeError) -> bool + Send + Sync>;

/// How a node is tried again when it fails: how many attempts, how long to wait between them
/// (exponential backoff with a cap and jitter), and which errors are worth another attempt.
///
/// Declared on a node, `#[node(retry = RetryPolicy::attempts(3))]`, or for every node of a
/// graph, `#[graph(state = S, retry = RetryPolicy::attempts(3))]` (a node's own policy wins;
/// `RetryPolicy::none()` turns the graph's off for one node). The defaults are LangGraph's: the
/// first retry after 500 ms, doubling up to 128 s, with jitter.
///
/// Every error is retried except a question being asked ([`InterruptError`]) and a saved
/// `once` result that no longer decodes ([`OnceError`]); a panic is not retried either. Each
/// failed attempt is recorded with the task's writes (its error text and time), and retries
/// are not steps: they do not count against the recursion limit.
///
/// ```
/// use std::time::Duration;
/// use stategraph_runtime::RetryPolicy;
///
/// #[derive(Debug, thiserror::Error)]
/// #[error("rate limited")]
/// struct RateLimited;
///
/// let policy = RetryPolicy::attempts(5)
///     .backoff(Duration::from_millis(200), Duration::from_secs(10))
///     .retry_on_error::<RateLimited>();
/// assert_eq!(policy.max_attempts(), 5);
/// ```
#[derive(Clone)]
pub struct RetryPolicy {
    max_attempts: u32,
    initial: Duration,
    max: Duration,
    factor: f32,
    jitter: bool,
    retry_on: RetryOn,
}

impl std::fmt::Debug for RetryPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RetryPolicy")
            .field("max_attempts", &self.max_attempts)
            .field("initial", &self.initial)
            .field("max", &self.max)
            .field("factor", &self.factor)
            .field("jitter", &self.jitter)
            .finish_non_exhaustive()
    }
}

impl RetryPolicy {
    /// Up to `max_attempts` attempts in all (the first included; at least one), with the
    /// default backoff.
    pub fn attempts(max_attempts: u32) -> Self {
        Self {
            max_attempts: max_attempts.max(1),
            initial: Duration::from_millis(500),
            max: Duration::from_secs(128),
            factor: 2.0,
            jitter: true,
            retry_on: Arc::new(retryable),
        }
    }

    /// No retry: one attempt. Turns a graph-wide policy off for one node.
    pub fn none() -> Self {
        Self::attempts(1)
    }

    /// Waits `initial` before the first retry, multiplying the wait by the factor (default 2)
    /// after each, up to `max`.
    pub fn backoff(mut self, initial: Duration, max: Duration) -> Self {
        self.initial = initial;
        self.max = max.max(initial);
        self
    }

    /// The factor each wait is multiplied by (default 2; at least 1).
    pub fn factor(mut self, factor: f32) -> Self {
        self.factor = factor.max(1.0);
        self
    }

    /// Whether each wait gets a random extra of up to its own length (default on), so many
    /// runs failing at once do not retry in lockstep.
    pub fn jitter(mut self, jitter: bool) -> Self {
        self.jitter = jitter;
        self
    }

    /// Retries only the errors `retry_on` accepts (a question being asked and an undecodable
    /// `once` result are never retried).
    pub fn retry_on(
        mut self,
        retry_on: impl Fn(&NodeError) -> bool + Send + Sync + 'static,
    ) -> Self {
        self.retry_on = Arc::new(move |error| retryable(error) && retry_on(error));
        self
    }

    /// Retries only errors of type `E` (the node's own error type, or one it wraps as its
    /// `source`).
    pub fn retry_on_error<E: std::error::Error + 'static>(self) -> Self {
        self.retry_on(|error| {
            let mut current: Option<&(dyn std::error::Error + 'static)> = Some(error.as_ref());
            while let Some(e) = current {
                if e.is::<E>() {
                    return true;
                }
                current = e.source();
            }
            false
        })
    }

    /// The most attempts, the first included.
    pub fn max_attempts(&self) -> u32 {
        self.max_attempts
    }

    /// The waits between attempts, in order.
    fn waits(&self) -> impl Iterator<Item = Duration> {
        let mut builder = backon::ExponentialBuilder::default()
            .with_min_delay(self.initial)
            .with_max_delay(self.max)
            .with_factor(self.factor)
            .with_max_times(self.max_attempts.saturating_sub(1) as usize);
        if self.jitter {
            builder = builder.with_jitter();
        }
        builder.build()
    }
}

/// The errors no policy retries: a question being asked, a saved result that no longer decodes.
fn retryable(error: &NodeError) -> bool {
    !(error.is::<InterruptError>() || error.is::<OnceError>())
}

/// A node run under a retry policy.
pub(crate) struct Retrying<S: State, D> {
    pub(crate) inner: Arc<dyn NodeFn<S, D>>,
    pub(crate) policy: RetryPolicy,
}

impl<S: State, D: Send + Sync + 'static> NodeFn<S, D> for Retrying<S, D> {
    fn call(&self, state: Arc<S>, ctx: NodeContext<D>) -> NodeFuture<S> {
        let inner = Arc::clone(&self.inner);
        let policy = self.policy.clone();
        Box::pin(async move {
            let mut waits = policy.waits();
            let mut attempt = 1;
            loop {
                let error = match inner.call(Arc::clone(&state), ctx.clone()).await {
                    Ok(update) => return Ok(update),
                    Err(error) => error,
                };
                // A question ends the task (the node may have wrapped its error).
                if ctx.asked() || !(policy.retry_on)(&error) {
                    return Err(error);
                }
                let Some(wait) = waits.next() else {
                    return Err(error);
                };
                tracing::warn!(
                    node = ctx.node,
                    attempt,
                    retry_in = ?wait,
                    error = %error,
                    "node failed; retrying"
                );
                ctx.failed_attempt(attempt, &error);
                ctx.emit_retry(attempt, &error).await;
                tokio::time::sleep(wait).await;
                ctx.begin_attempt();
                attempt += 1;
            }
        })
    }
}

/// One failed attempt of a task, as saved with its writes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attempt {
    /// The attempt's number, from 1.
    pub attempt: u32,
    /// Its error, as text (cut at [`Attempt::MAX_ERROR_BYTES`]).
    pub error: String,
    /// When it failed.
    #[serde(with = "micros")]
    pub failed_at: SystemTime,
}

impl Attempt {
    /// The longest error text an attempt keeps.
    pub const MAX_ERROR_BYTES: usize = 1024;
}

/// A time as microseconds since the epoch, as every stored time.
mod micros {
    use std::time::SystemTime;

    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(time: &SystemTime, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_i64(crate::checkpoint::to_micros(*time))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<SystemTime, D::Error> {
        i64::deserialize(d).map(crate::checkpoint::from_micros)
    }
}

/// A task's failed attempts, recorded by [`Retrying`] while it runs.
#[derive(Debug, Default)]
pub(crate) struct TaskAttempts {
    failed: Mutex<Vec<Attempt>>,
}

impl TaskAttempts {
    /// Records that attempt `attempt` failed with `error`.
    pub(crate) fn record(&self, attempt: u32, error: &NodeError) {
        let text = super::cut(error.to_string(), Attempt::MAX_ERROR_BYTES);
        self.failed
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(Attempt {
                attempt,
                error: text,
                failed_at: crate::checkpoint::now(),
            });
    }

    /// How many attempts failed so far.
    pub(crate) fn failed(&self) -> u32 {
        let failed = self.failed.lock().unwrap_or_else(|p| p.into_inner());
        failed.len() as u32
    }

    /// The write recording the failed attempts of task `task_id`, if there were any.
    pub(crate) fn write(&self, task_id: TaskId, node: &str) -> Option<PendingWrite> {
        let failed = self.failed.lock().unwrap_or_else(|p| p.into_inner());
        if failed.is_empty() {
            return None;
        }
        Some(PendingWrite {
            task_id,
            node: node.to_owned(),
            idx: PendingWrite::ATTEMPTS_IDX,
            channel: PendingWrite::ATTEMPTS.to_owned(),
            value: serde_json::to_vec(&*failed).expect("attempts encode as JSON"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_grow_to_the_cap_and_stop_after_the_attempts() {
        let policy = RetryPolicy::attempts(6)
            .backoff(Duration::from_millis(100), Duration::from_millis(500))
            .jitter(false);
        let waits: Vec<u128> = policy.waits().map(|w| w.as_millis()).collect();
        assert_eq!(waits, [100, 200, 400, 500, 500]);
        assert_eq!(RetryPolicy::none().waits().count(), 0);
        assert_eq!(RetryPolicy::attempts(0).max_attempts(), 1);
    }

    #[test]
    fn questions_and_stale_once_results_are_never_retried() {
        let policy = RetryPolicy::attempts(3).retry_on(|_| true);
        let asked: NodeError = Box::new(InterruptError::NoCheckpointer);
        assert!(!(policy.retry_on)(&asked));
        let other: NodeError = "timeout talking to the model".into();
        assert!((policy.retry_on)(&other));
    }

    #[derive(Debug, thiserror::Error)]
    #[error("rate limited")]
    struct RateLimited;

    #[derive(Debug, thiserror::Error)]
    #[error("the call failed")]
    struct Wrapper(#[source] RateLimited);

    #[test]
    fn retry_on_error_looks_through_sources() {
        let policy = RetryPolicy::attempts(3).retry_on_error::<RateLimited>();
        assert!((policy.retry_on)(&(Box::new(RateLimited) as NodeError)));
        assert!((policy.retry_on)(
            &(Box::new(Wrapper(RateLimited)) as NodeError)
        ));
        assert!(!(policy.retry_on)(&NodeError::from("other")));
    }

    #[test]
    fn a_long_error_is_cut_on_a_char_boundary() {
        let attempts = TaskAttempts::default();
        attempts.record(1, &NodeError::from("é".repeat(2000)));
        let failed = attempts.failed.lock().unwrap();
        assert!(failed[0].error.len() <= Attempt::MAX_ERROR_BYTES);
        assert!(failed[0].error.chars().all(|c| c == 'é'));
    }
}
