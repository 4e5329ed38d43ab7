//! The checkpointer conformance kit on a local directory: each case on a fresh one, under
//! the target directory's scratch space.

use stategraph_object_store::ObjectStoreSaver;

async fn saver() -> ObjectStoreSaver {
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .expect("a temporary directory")
        .keep();
    ObjectStoreSaver::local(&dir)
        .await
        .expect("a saver on a local directory")
}

stategraph_runtime::checkpointer_conformance!(async { saver().await });
