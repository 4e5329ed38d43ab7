//! Failures in the middle of a prune, a cleanup or a compaction, injected by a store that
//! wraps a real local directory and refuses chosen requests (as a crash or a lost connection
//! at that point would): the thread is never left unreadable, what was committed stays, and the
//! next process finishes what was left.

mod support;

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use futures::StreamExt;
use futures::stream::BoxStream;
use serde_json::json;
use stategraph_object_store::ObjectStoreSaver;
use stategraph_object_store::object_store::local::LocalFileSystem;
use stategraph_object_store::object_store::path::Path;
use stategraph_object_store::object_store::{
    CopyOptions, Error, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta,
    ObjectStore, PutMultipartOptions, PutOptions, PutPayload, PutResult, Result,
};
use stategraph_runtime::testing::fixtures::{checkpoint, child, must_get, thread};
use stategraph_runtime::{Checkpoint, Checkpointer, ListQuery, Prune, ThreadId};

/// Which requests the store refuses.
#[derive(Default)]
struct Faults {
    /// Puts to keys ending with this (`<generation>/<sequence>`).
    put_ending: Option<String>,
    /// Every delete.
    deletes: bool,
}

/// A local directory that refuses the requests `faults` names.
#[derive(Debug)]
struct Faulty {
    inner: LocalFileSystem,
    faults: Arc<Mutex<Faults>>,
}

impl std::fmt::Debug for Faults {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Faults").finish_non_exhaustive()
    }
}

impl std::fmt::Display for Faulty {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Faulty({})", self.inner)
    }
}

fn injected() -> Error {
    Error::Generic {
        store: "Faulty",
        source: "an injected failure".into(),
    }
}

#[async_trait]
impl ObjectStore for Faulty {
    async fn put_opts(
        &self,
        location: &Path,
        payload: PutPayload,
        opts: PutOptions,
    ) -> Result<PutResult> {
        let refused = {
            let faults = self.faults.lock().unwrap();
            faults
                .put_ending
                .as_ref()
                .is_some_and(|end| location.as_ref().ends_with(end.as_str()))
        };
        if refused {
            return Err(injected());
        }
        self.inner.put_opts(location, payload, opts).await
    }

    async fn put_multipart_opts(
        &self,
        location: &Path,
        opts: PutMultipartOptions,
    ) -> Result<Box<dyn MultipartUpload>> {
        self.inner.put_multipart_opts(location, opts).await
    }

    async fn get_opts(&self, location: &Path, options: GetOptions) -> Result<GetResult> {
        self.inner.get_opts(location, options).await
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, Result<Path>>,
    ) -> BoxStream<'static, Result<Path>> {
        if self.faults.lock().unwrap().deletes {
            return locations.map(|_| Err(injected())).boxed();
        }
        self.inner.delete_stream(locations)
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, Result<ObjectMeta>> {
        self.inner.list(prefix)
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> Result<ListResult> {
        self.inner.list_with_delimiter(prefix).await
    }

    async fn copy_opts(&self, from: &Path, to: &Path, options: CopyOptions) -> Result<()> {
        self.inner.copy_opts(from, to, options).await
    }
}

/// A saver on `dir` through a store that refuses what `faults` names.
async fn faulty_saver(dir: &std::path::Path) -> (ObjectStoreSaver, Arc<Mutex<Faults>>) {
    let faults = Arc::new(Mutex::new(Faults::default()));
    let store = Faulty {
        inner: LocalFileSystem::new_with_prefix(dir).unwrap(),
        faults: faults.clone(),
    };
    let saver = ObjectStoreSaver::new(Arc::new(store));
    saver.setup().await.unwrap();
    (saver, faults)
}

/// The number of objects in the thread's log (its generations; not the object naming it).
fn objects(dir: &std::path::Path, t: &ThreadId) -> usize {
    let root = dir.join("stategraph").join(support::thread_dir(t));
    let mut count = 0;
    let generations = std::fs::read_dir(root).unwrap().flatten();
    for generation in generations.filter(|g| g.path().is_dir()) {
        count += std::fs::read_dir(generation.path()).unwrap().count();
    }
    count
}

/// Five checkpoints in a line; returns the last.
async fn five(saver: &ObjectStoreSaver, t: &ThreadId) -> Checkpoint {
    let mut head = checkpoint(t, "")
        .snapshot("n", json!(0))
        .put_ok(saver)
        .await;
    for n in 1..5 {
        head = child(&head).snapshot("n", json!(n)).put_ok(saver).await;
    }
    head
}

/// The prune's seal is stored but the next generation's base is not: the prune reports the
/// failure, and the next reader finishes the seal — the thread reads pruned, and goes on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_prune_cut_off_after_its_seal_is_finished_by_the_next_reader() {
    let (_, dir) = support::local_saver().await;
    let (saver, faults) = faulty_saver(&dir).await;
    let t = thread("seal-without-base");
    let head = five(&saver, &t).await;
    faults.lock().unwrap().put_ending = Some(format!("{:020}/{:020}", 1, 0));
    assert!(
        saver
            .prune(std::slice::from_ref(&t), Prune::KeepLatest)
            .await
            .is_err(),
        "the prune reports that it did not finish"
    );
    let reader = ObjectStoreSaver::local(&dir).await.unwrap();
    let history = reader.list(&ListQuery::thread(t.clone())).await.unwrap();
    assert_eq!(
        history.len(),
        1,
        "the seal was committed: the thread is pruned"
    );
    assert_eq!(history[0].checkpoint.id, head.id);
    assert_eq!(
        objects(&dir, &t),
        1,
        "the base, and nothing of the old generation"
    );
    let next = child(&head).snapshot("n", json!(5)).put_ok(&reader).await;
    faults.lock().unwrap().put_ending = None;
    assert_eq!(must_get(&saver, &t, "", None).await.checkpoint.id, next.id);
}

/// The prune is committed but its cleanup fails: the prune succeeds, the thread reads pruned,
/// and the next process that reads it from scratch deletes what was left.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_cleanup_is_finished_by_the_next_reader() {
    let (_, dir) = support::local_saver().await;
    let (saver, faults) = faulty_saver(&dir).await;
    let t = thread("cleanup");
    let head = five(&saver, &t).await;
    faults.lock().unwrap().deletes = true;
    saver
        .prune(std::slice::from_ref(&t), Prune::KeepLatest)
        .await
        .expect("a committed prune succeeds even if its cleanup fails");
    assert_eq!(objects(&dir, &t), 7, "five entries, the seal and the base");
    let history = saver.list(&ListQuery::thread(t.clone())).await.unwrap();
    assert_eq!(history.len(), 1);
    let reader = ObjectStoreSaver::local(&dir).await.unwrap();
    assert_eq!(must_get(&reader, &t, "", None).await.checkpoint.id, head.id);
    assert_eq!(
        objects(&dir, &t),
        1,
        "the reader deleted the old generation"
    );
}

/// A compaction that fails after the put it follows was stored does not fail the put: the
/// checkpoint is there, and a later write compacts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_compaction_does_not_fail_the_put_before_it() {
    let (_, dir) = support::local_saver().await;
    let (saver, faults) = faulty_saver(&dir).await;
    let saver = saver.with_compaction_after(4);
    let t = thread("compaction");
    let mut head = checkpoint(&t, "")
        .snapshot("n", json!(0))
        .put_ok(&saver)
        .await;
    for n in 1..3 {
        head = child(&head).snapshot("n", json!(n)).put_ok(&saver).await;
    }
    // The fourth entry triggers a compaction, whose seal would be the fifth: refuse it.
    faults.lock().unwrap().put_ending = Some(format!("{:020}/{:020}", 0, 4));
    let fourth = child(&head).snapshot("n", json!(3)).put_ok(&saver).await;
    let reader = ObjectStoreSaver::local(&dir).await.unwrap();
    assert_eq!(
        must_get(&reader, &t, "", None).await.checkpoint.id,
        fourth.id
    );
    assert_eq!(objects(&dir, &t), 4, "four entries, no seal");
    faults.lock().unwrap().put_ending = None;
    let fifth = child(&fourth).snapshot("n", json!(4)).put_ok(&saver).await;
    let history = reader.list(&ListQuery::thread(t.clone())).await.unwrap();
    assert_eq!(history.len(), 5, "compaction keeps the history");
    assert_eq!(history[0].checkpoint.id, fifth.id);
    assert!(
        objects(&dir, &t) <= 2,
        "compacted into a base (and maybe one entry)"
    );
}

/// A thread whose log entries were overwritten with garbage is left out of every listing (and
/// reported by its id, which the thread's `id` object keeps); the other threads are listed,
/// and sweeps reach them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thread_whose_log_is_garbage_is_left_out_of_listings() {
    let (_, dir) = support::local_saver().await;
    // Nothing kept in memory: every listing reads the logs as another process would.
    let saver = ObjectStoreSaver::local(&dir)
        .await
        .unwrap()
        .with_cached_threads(0);
    let reader = &saver;
    stategraph_runtime::testing::threads::listing_skips_an_unreadable_thread(&saver, |t| {
        let root = dir.join("stategraph").join(support::thread_dir(&t));
        async move {
            let id = std::fs::read_to_string(root.join("id")).unwrap();
            assert_eq!(id, t.as_str(), "the thread's id is kept beside its log");
            let mut damaged = 0;
            for generation in std::fs::read_dir(&root).unwrap().flatten() {
                if generation.path().is_dir() {
                    for entry in std::fs::read_dir(generation.path()).unwrap().flatten() {
                        std::fs::write(entry.path(), b"not a log entry").unwrap();
                        damaged += 1;
                    }
                }
            }
            assert!(damaged > 0);
            let read = reader.get(&t, "", None).await;
            assert!(read.is_err(), "the damage is seen: {read:?}");
        }
    })
    .await;
}
