//! The object-store saver on a real S3-compatible server (moto, started by the test): the
//! conformance kit, and exactly the conditional-write semantics the saver relies on.

mod support;

use std::sync::Arc;

use stategraph_object_store::ObjectStoreSaver;
use stategraph_object_store::object_store::aws::S3ConditionalPut;
use stategraph_object_store::object_store::path::Path;
use stategraph_object_store::object_store::{
    ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload,
};
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
