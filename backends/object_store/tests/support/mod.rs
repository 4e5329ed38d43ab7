//! What the object-store tests share: an S3-compatible server of their own, and savers on it
//! or on a local directory.

#![allow(dead_code)]

pub mod moto;

#[allow(unused_imports)] // not every test binary starts moto
pub use moto::Moto;

use stategraph_object_store::ObjectStoreSaver;

/// A saver on a fresh directory under the target directory's scratch space.
pub async fn local_saver() -> (ObjectStoreSaver, std::path::PathBuf) {
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .expect("a temporary directory")
        .keep();
    let saver = ObjectStoreSaver::local(&dir)
        .await
        .expect("a saver on a local directory");
    (saver, dir)
}

/// A saver on `target`, as a child process is told it: `s3:<endpoint>` for the moto server
/// there (under `prefix`), else a local directory.
pub async fn target_saver(target: &str, prefix: &str) -> ObjectStoreSaver {
    match target.strip_prefix("s3:") {
        Some(endpoint) => moto::saver_at(endpoint, prefix),
        None => ObjectStoreSaver::local(target)
            .await
            .expect("a saver on a local directory"),
    }
}
