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

/// Set in a child process started by [`child_of`]: the test it runs plays the child's part.
const CHILD_TARGET: &str = "SG_OBJECT_STORE_CHILD_TARGET";
const CHILD_THREAD: &str = "SG_OBJECT_STORE_CHILD_THREAD";

/// The store and thread this process works on if it is a child that one of its own tests
/// started ([`child_of`]), as (target, thread).
pub fn child_part() -> Option<(String, stategraph_runtime::ThreadId)> {
    let target = std::env::var(CHILD_TARGET).ok()?;
    let thread = std::env::var(CHILD_THREAD).ok()?;
    Some((target, thread.into()))
}

/// This test binary started again as a child that runs only `test` — which, seeing
/// [`child_part`], plays the child's part on `target` and thread `thread`.
pub fn child_of(
    test: &str,
    target: &str,
    thread: &stategraph_runtime::ThreadId,
) -> std::process::Command {
    let mut command = std::process::Command::new(std::env::current_exe().unwrap());
    command
        .args(["--exact", test, "--nocapture"])
        .env(CHILD_TARGET, target)
        .env(CHILD_THREAD, thread.as_str());
    command
}

/// Where thread `t`'s log lives under a saver's prefix, as the crate documents it:
/// `threads/<SHA-256 of the thread id, in hex>`.
pub fn thread_dir(t: &stategraph_runtime::ThreadId) -> String {
    use sha2::Digest;
    let key: String = sha2::Sha256::digest(t.as_str().as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("threads/{key}")
}
