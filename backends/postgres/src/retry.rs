//! Riding over a server restart or failover: an operation that fails because its connection
//! broke is tried again on a new connection, with exponential backoff (backon), until the
//! retry deadline has passed since its first attempt; then its last error is returned.

use std::future::Future;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use backon::{ExponentialBuilder, Retryable};
use stategraph_checkpoint::CheckpointError;

use crate::error::{Context, retryable};

/// How long connection failures are retried unless
/// [`PostgresSaverBuilder::retry_deadline`](crate::PostgresSaverBuilder::retry_deadline) says.
pub const DEFAULT_RETRY_DEADLINE: Duration = Duration::from_secs(30);

/// The first wait after a failure; it doubles up to [`MAX_DELAY`], with jitter.
const MIN_DELAY: Duration = Duration::from_millis(50);
const MAX_DELAY: Duration = Duration::from_secs(2);

/// When to try an operation again.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RetryPolicy {
    /// How long after the first attempt a connection failure is still retried. The first
    /// retry is at once, even with a zero deadline: a pooled connection that died while idle
    /// (a server restart long ago) is no outage.
    pub(crate) deadline: Duration,
}

impl RetryPolicy {
    /// Runs `attempt` (given its number, from 1) until it succeeds, fails with an error that
    /// is not a connection failure, or the deadline has passed.
    pub(crate) async fn run<T, F, Fut>(
        self,
        context: Context<'_>,
        mut attempt: F,
    ) -> Result<T, CheckpointError>
    where
        F: FnMut(u32) -> Fut,
        Fut: Future<Output = Result<T, CheckpointError>>,
    {
        let start = Instant::now();
        let attempts = AtomicU32::new(0);
        let backoff = ExponentialBuilder::new()
            .with_min_delay(MIN_DELAY)
            .with_max_delay(MAX_DELAY)
            .with_jitter()
            .without_max_times();
        (|| {
            let n = attempts.fetch_add(1, Ordering::Relaxed) + 1;
            attempt(n)
        })
        .retry(backoff)
        .when(retryable)
        .adjust(|_, delay| {
            if attempts.load(Ordering::Relaxed) == 1 {
                Some(Duration::ZERO)
            } else {
                delay.filter(|delay| start.elapsed() + *delay <= self.deadline)
            }
        })
        .notify(|error, delay| {
            tracing::warn!(
                operation = context.operation,
                thread = context.thread_id.map(|t| t.as_str()),
                %error,
                ?delay,
                "PostgreSQL connection failed; retrying on a new connection"
            );
        })
        .await
    }
}
