//! `delete_thread`: every checkpoint, blob and write of a thread, in every namespace
//! (LangGraph's 5 DELETE_THREAD cases, plus reuse of the thread id).

use serde_json::json;

use crate::{Checkpointer, ListQuery, ThreadId};

use super::fixtures::*;

async fn delete_ok<C: Checkpointer + ?Sized>(saver: &C, t: &ThreadId) {
    saver
        .delete_thread(t)
        .await
        .unwrap_or_else(|e| panic!("delete_thread(`{t}`) should succeed, but failed: {e}"));
}

/// After `delete_thread`, `get` gives `None` and `list` gives nothing.
pub async fn removes_checkpoints<C: Checkpointer + ?Sized>(saver: &C) {
    let t = thread("delete");
    let chain = linear(saver, &t, "", 3).await;
    delete_ok(saver, &t).await;
    assert!(
        get_ok(saver, &t, "", None).await.is_none(),
        "latest should be gone"
    );
    assert!(
        get_ok(saver, &t, "", Some(chain[0].id)).await.is_none(),
        "every checkpoint should be gone"
    );
    assert!(list_ok(saver, &ListQuery::thread(t)).await.is_empty());
}

/// Deleting removes the writes: a checkpoint put again later under the same id has none.
pub async fn removes_writes<C: Checkpointer + ?Sized>(saver: &C) {
    let t = thread("delete-writes");
    let cp = checkpoint(&t, "").put_ok(saver).await;
    put_writes_ok(saver, &cp, vec![write(task(), 0, "ch", json!("old"))]).await;
    delete_ok(saver, &t).await;
    checkpoint(&t, "").id(cp.id).put_ok(saver).await;
    let got = must_get(saver, &t, "", Some(cp.id)).await;
    assert!(
        got.pending_writes.is_empty(),
        "writes of a deleted thread should be gone, got {:?}",
        writes(&got)
    );
}

/// Every namespace goes: `""` and `child:1` both give `None`.
pub async fn removes_all_namespaces<C: Checkpointer + ?Sized>(saver: &C) {
    let t = thread("delete-ns");
    checkpoint(&t, "").put_ok(saver).await;
    checkpoint(&t, "child:1").put_ok(saver).await;
    delete_ok(saver, &t).await;
    assert!(get_ok(saver, &t, "", None).await.is_none());
    assert!(
        get_ok(saver, &t, "child:1", None).await.is_none(),
        "the child namespace should be deleted too"
    );
}

/// Other threads keep their checkpoints, blobs and writes.
pub async fn preserves_other_threads<C: Checkpointer + ?Sized>(saver: &C) {
    let t1 = thread("delete-1");
    let t2 = thread("delete-2");
    linear(saver, &t1, "", 2).await;
    let kept = linear(saver, &t2, "", 2).await;
    let task = task();
    put_writes_ok(saver, &kept[1], vec![write(task, 0, "ch", json!("kept"))]).await;
    delete_ok(saver, &t1).await;
    let got = must_get(saver, &t2, "", None).await;
    assert_eq!(got.checkpoint.id, kept[1].id);
    assert_eq!(value(&got, "step"), json!(1));
    assert_eq!(writes(&got), [(task, 0, "ch".to_owned(), json!("kept"))]);
    assert_eq!(list_ok(saver, &ListQuery::thread(t2)).await.len(), 2);
}

/// Deleting a thread that does not exist succeeds.
pub async fn nonexistent_is_noop<C: Checkpointer + ?Sized>(saver: &C) {
    let t = thread("delete-missing");
    delete_ok(saver, &t).await;
    delete_ok(saver, &t).await;
    assert!(get_ok(saver, &t, "", None).await.is_none());
}

/// A deleted thread id can start over: a first put (parent `None`) succeeds, and blobs put
/// again at an old version are the new ones (the old blobs were deleted, not kept).
pub async fn thread_is_reusable<C: Checkpointer + ?Sized>(saver: &C) {
    let t = thread("delete-reuse");
    let old = checkpoint(&t, "")
        .snapshot("a", json!("old"))
        .put_ok(saver)
        .await;
    child(&old).put_ok(saver).await;
    delete_ok(saver, &t).await;
    let new = checkpoint(&t, "")
        .id(old.id)
        .snapshot("a", json!("new"))
        .put_ok(saver)
        .await;
    let got = must_get(saver, &t, "", None).await;
    assert_eq!(got.checkpoint.id, new.id);
    assert_eq!(
        value(&got, "a"),
        json!("new"),
        "the deleted thread's blob should not shadow the new one"
    );
    assert_eq!(list_ok(saver, &ListQuery::thread(t)).await.len(), 1);
}
