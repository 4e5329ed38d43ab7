//! [`Clock`]: where a store reads the time, so a test can move it instead of sleeping.

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

/// Where a store reads the time: the system's clock (the default), or a [`ManualClock`] a test
/// moves. Every store takes one with `with_clock`; times to live, expiry and sweeps follow it.
///
/// ```
/// use std::time::Duration;
/// use stategraph_checkpoint::store::{ManualClock, MemoryStore, Namespace, Store};
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let clock = ManualClock::starting_now();
/// let store = MemoryStore::new().with_clock(clock.clone());
/// let memories = Namespace::new(["user-1", "memories"])?;
/// store
///     .put_value(&memories, "likes", Default::default(), Some(Duration::from_secs(60)))
///     .await?;
/// clock.advance(Duration::from_secs(61));
/// assert!(store.get(&memories, "likes", false).await?.is_none());
/// # Ok::<(), stategraph_checkpoint::store::StoreError>(())
/// # }).unwrap();
/// ```
#[derive(Clone, Debug, Default)]
pub struct Clock(Option<ManualClock>);

impl Clock {
    /// The system's clock.
    pub fn system() -> Self {
        Self(None)
    }

    /// The time now, to the microsecond every store keeps.
    pub fn now(&self) -> SystemTime {
        match &self.0 {
            None => crate::checkpointer::now(),
            Some(manual) => manual.now(),
        }
    }
}

impl From<ManualClock> for Clock {
    fn from(clock: ManualClock) -> Self {
        Self(Some(clock))
    }
}

/// A clock that stands still until it is moved; clones share one time. For tests of times to
/// live: a store given one expires items when the clock passes their time, not the system's.
///
/// A store whose backend also expires items by the wall clock (Redis's `PEXPIREAT`) keeps them
/// at least until then; start the clock at the system's time ([`ManualClock::starting_now`])
/// and move it forward only, and the store answers by the manual clock.
#[derive(Clone, Debug)]
pub struct ManualClock(Arc<Mutex<SystemTime>>);

impl ManualClock {
    /// A clock standing at `at`.
    pub fn at(at: SystemTime) -> Self {
        Self(Arc::new(Mutex::new(at)))
    }

    /// A clock standing at the system's time now.
    pub fn starting_now() -> Self {
        Self::at(crate::checkpointer::now())
    }

    /// The time it stands at.
    pub fn now(&self) -> SystemTime {
        *self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Moves it forward by `by`.
    pub fn advance(&self, by: Duration) {
        let mut at = self.0.lock().unwrap_or_else(|p| p.into_inner());
        *at += by;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manual_clock_moves_only_when_told_and_its_clones_share_it() {
        let clock = ManualClock::at(SystemTime::UNIX_EPOCH);
        let shared = Clock::from(clock.clone());
        assert_eq!(shared.now(), SystemTime::UNIX_EPOCH);
        clock.advance(Duration::from_secs(5));
        assert_eq!(
            shared.now(),
            SystemTime::UNIX_EPOCH + Duration::from_secs(5)
        );
    }

    #[test]
    fn the_system_clock_is_the_default() {
        let before = crate::checkpointer::now();
        let read = Clock::default().now();
        assert!(read >= before - Duration::from_millis(1));
    }
}
