//! The object-store saver on a real S3-compatible server (moto, started by the test): the
//! conformance kit, and exactly the conditional-write semantics the saver relies on.

mod support;

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;

use stategraph_object_store::object_store::aws::S3ConditionalPut;
use stategraph_object_store::object_store::path::Path;
use stategraph_object_store::object_store::{
    ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload,
};
use stategraph_object_store::{ObjectStoreError, ObjectStoreSaver, ObjectStoreStore};
use stategraph_runtime::testing::fixtures::{checkpoint, child, must_get, thread};
use stategraph_runtime::{CheckpointError, Checkpointer};
use support::Moto;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_kit_passes_on_s3() {
    let Some(moto) = Moto::start_or_skip("conformance on S3") else {
        return;
    };
    let mut case = 0;
    let report = stategraph_runtime::testing::run_all(|| {
        case += 1;
        let prefix = format!("conformance/{case}");
        let moto = &moto;
        async move { moto.saver(&prefix).await }
    })
    .await;
    report.assert_passed();
    assert_eq!(
        report.passed.len(),
        stategraph_runtime::testing::CASES.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn store_conformance_kit_passes_on_s3() {
    let Some(moto) = Moto::start_or_skip("store conformance on S3") else {
        return;
    };
    let mut case = 0;
    let report = stategraph_runtime::testing::store::run_all(|| {
        case += 1;
        let prefix = format!("store-conformance/{case}");
        let moto = &moto;
        async move { ObjectStoreStore::from(moto.saver(&prefix).await) }
    })
    .await;
    report.assert_passed();
    assert!(!report.passed.is_empty());
}

/// The server refuses a second create of one key (`If-None-Match: *`, 412), which the client
/// reports as "already exists", and keeps the first object.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_refuses_a_second_create() {
    let Some(moto) = Moto::start_or_skip("create-if-absent on S3") else {
        return;
    };
    let s3 = moto.s3(S3ConditionalPut::ETagMatch);
    let path = Path::from("probe/once");
    let create = |body: &'static [u8]| {
        s3.put_opts(
            &path,
            PutPayload::from_static(body),
            PutOptions::from(PutMode::Create),
        )
    };
    create(b"first").await.expect("the first create succeeds");
    match create(b"second").await {
        Err(stategraph_object_store::object_store::Error::AlreadyExists { .. }) => {}
        other => panic!("the second create must be refused as already existing, got {other:?}"),
    }
    let kept = s3.get(&path).await.unwrap().bytes().await.unwrap();
    assert_eq!(&kept[..], b"first");
}

/// Racing creates of one key from many tasks: exactly one wins.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_creates_have_one_winner() {
    let Some(moto) = Moto::start_or_skip("racing creates on S3") else {
        return;
    };
    let s3: Arc<dyn ObjectStore> = Arc::new(moto.s3(S3ConditionalPut::ETagMatch));
    for round in 0..5 {
        let path = Path::from(format!("race/{round}"));
        let attempts = (0..8).map(|i| {
            let (s3, path) = (s3.clone(), path.clone());
            tokio::spawn(async move {
                let body = PutPayload::from(format!("writer {i}").into_bytes());
                s3.put_opts(&path, body, PutOptions::from(PutMode::Create))
                    .await
            })
        });
        let results = futures::future::join_all(attempts).await;
        let won = results.iter().filter(|r| matches!(r, Ok(Ok(_)))).count();
        assert_eq!(won, 1, "round {round}: exactly one create must win");
    }
}

/// A client that sends no condition (conditional put disabled) cannot create-if-absent:
/// `setup` refuses it with a clear error instead of letting two writers both win.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn setup_refuses_a_store_without_create_if_absent() {
    let Some(moto) = Moto::start_or_skip("setup without conditional put") else {
        return;
    };
    let saver = ObjectStoreSaver::new(Arc::new(moto.s3(S3ConditionalPut::Disabled)));
    match saver.setup().await {
        Err(CheckpointError::Backend(e)) => {
            let message = e.to_string();
            assert!(message.contains("object store setup failed"), "{message}");
        }
        other => panic!("setup must refuse a store without conditional puts, got {other:?}"),
    }
}

/// A server that stops answering (SIGSTOP) makes a put fail within the client's timeout with
/// a store error naming the operation and thread. Once it answers again (SIGCONT, with
/// everything it held), the thread reads the same from any process (the request that timed
/// out is stored whole or not at all) and the same saver goes on from its head.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_server_is_a_clear_error_and_the_thread_goes_on() {
    let Some(moto) = Moto::start_or_skip("stalled S3 server") else {
        return;
    };
    let saver = ObjectStoreSaver::new(Arc::new(moto.s3_with_timeout(Duration::from_secs(1))))
        .with_prefix("stall");
    saver.setup().await.unwrap();
    let t = thread("stalled");
    let root = checkpoint(&t, "")
        .snapshot("n", json!(0))
        .put_ok(&saver)
        .await;
    let signal = |sig: &str| {
        let status = std::process::Command::new("kill")
            .args([sig, &moto.pid().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    };
    signal("-STOP");
    let stalled = child(&root).snapshot("n", json!(1)).put(&saver).await;
    signal("-CONT");
    match stalled {
        Err(CheckpointError::Backend(e)) => {
            let e = e
                .downcast_ref::<ObjectStoreError>()
                .expect("an object-store error");
            assert!(e.is_store_failure());
            assert_eq!(e.operation(), "put");
            assert!(e.to_string().contains("put of thread"), "{e}");
        }
        other => panic!("a put to a stalled server must fail, got {other:?}"),
    }
    let head = must_get(&moto.saver("stall").await, &t, "", None)
        .await
        .checkpoint;
    assert!(
        head.id == root.id || head.parent_id == Some(root.id),
        "the thread holds the timed-out put whole or not at all"
    );
    let next = child(&head).snapshot("n", json!(2)).put_ok(&saver).await;
    let got = must_get(&moto.saver("stall").await, &t, "", None).await;
    assert_eq!(got.checkpoint.id, next.id);
}
