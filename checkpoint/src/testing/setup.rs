//! `setup`: creating or migrating the storage.

use crate::Checkpointer;

use super::fixtures::*;

/// `setup()` is idempotent: calling it again on a saver that already holds a checkpoint
/// succeeds and keeps the checkpoint.
pub async fn idempotent<C: Checkpointer + ?Sized>(saver: &C) {
    let t = thread("setup");
    let cp = checkpoint(&t, "").put_ok(saver).await;
    for attempt in 1..=2 {
        if let Err(e) = saver.setup().await {
            panic!("setup() called again (attempt {attempt}) should succeed, but failed: {e}");
        }
    }
    let got = get_ok(saver, &t, "", Some(cp.id)).await;
    assert!(
        got.is_some(),
        "a checkpoint stored before setup() was called again should still be there"
    );
}
