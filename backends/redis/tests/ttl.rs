//! Expiry: every key of a thread gets the TTL on write, refresh-on-read renews it, and an
//! expired thread vanishes whole (also from `list_threads`).

mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use stategraph_redis::{RedisSaver, Ttl};
use stategraph_runtime::{
    BlobKind, ChannelBlob, Checkpoint, CheckpointId, CheckpointMetadata, Checkpointer,
    NewCheckpoint, PendingWrite, PutMode, Source, TaskId, ThreadId, ThreadQuery, now,
};

fn checkpoint(thread: &ThreadId, ns: &str, parent: Option<CheckpointId>) -> NewCheckpoint {
    let id = CheckpointId::new();
    NewCheckpoint {
        checkpoint: Checkpoint {
            id,
            thread_id: thread.clone(),
            ns: ns.to_owned(),
            parent_id: parent,
            created_at: now(),
            channel_versions: BTreeMap::from([("count".to_owned(), id)]),
            next: vec!["node".to_owned()],
            barriers: BTreeMap::new(),
            metadata: CheckpointMetadata::new(Source::Loop, 0),
        },
        blobs: vec![ChannelBlob {
            channel: "count".to_owned(),
            version: id,
            kind: BlobKind::Snapshot,
            data: b"1".to_vec(),
        }],
        mode: PutMode::Advance,
        epoch: None,
    }
}

async fn saver(url: &str, ttl: Ttl) -> RedisSaver {
    RedisSaver::builder(url)
        .key_prefix(format!("{}-ttl", support::prefix()))
        .ttl(ttl)
        .allow_volatile(true)
        .connect()
        .await
        .unwrap()
}

/// Puts a root and a subgraph checkpoint and a write, so every kind of key exists.
async fn fill(saver: &RedisSaver, thread: &ThreadId) -> CheckpointId {
    let root = checkpoint(thread, "", None);
    let id = root.checkpoint.id;
    saver.put(root).await.unwrap();
    saver.put(checkpoint(thread, "sub:1", None)).await.unwrap();
    let write = PendingWrite {
        task_id: TaskId::derive(id, "", 0, "node"),
        node: "node".into(),
        idx: 0,
        channel: "count".into(),
        value: b"2".to_vec(),
    };
    saver
        .put_writes(thread, "", id, vec![write], None)
        .await
        .unwrap();
    id
}

async fn thread_keys(url: &str, saver: &RedisSaver, thread: &ThreadId) -> Vec<String> {
    support::keys(url, &format!("{}:{{{}}}:*", saver.key_prefix(), thread)).await
}

#[tokio::test]
async fn every_key_expires_with_the_thread() {
    let Some(url) = support::shared_server_or_skip("ttl expiry").await else {
        return;
    };
    let saver = saver(&url, Ttl::after_write(Duration::from_millis(1500))).await;
    let thread = ThreadId::new(format!("ttl-expire-{}", CheckpointId::new()));
    fill(&saver, &thread).await;
    let keys = thread_keys(&url, &saver, &thread).await;
    assert!(
        keys.len() >= 9,
        "cp/ord/blobs/writes/wix/idx/nss keys: {keys:?}"
    );
    let mut conn = support::raw(&url).await;
    for key in &keys {
        let ttl: i64 = redis::cmd("PTTL")
            .arg(key)
            .query_async(&mut conn)
            .await
            .unwrap();
        assert!(ttl > 0 && ttl <= 1500, "{key} has PTTL {ttl}");
    }
    tokio::time::sleep(Duration::from_millis(1800)).await;
    assert!(saver.get(&thread, "", None).await.unwrap().is_none());
    assert!(thread_keys(&url, &saver, &thread).await.is_empty());
    let listed = saver.list_threads(&ThreadQuery::default()).await.unwrap();
    assert!(
        listed.iter().all(|t| t.thread_id != thread),
        "expired thread listed"
    );
    // list_threads dropped it from the registry too.
    let registered: Option<f64> = redis::cmd("ZSCORE")
        .arg(format!("{}:threads", saver.key_prefix()))
        .arg(thread.as_str())
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(registered, None);
}

#[tokio::test]
async fn refresh_on_read_keeps_a_thread_alive() {
    let Some(url) = support::shared_server_or_skip("ttl refresh").await else {
        return;
    };
    let ttl = Ttl {
        after: Duration::from_millis(1000),
        refresh_on_read: true,
    };
    let refreshing = saver(&url, ttl).await;
    let thread = ThreadId::new(format!("ttl-refresh-{}", CheckpointId::new()));
    let id = fill(&refreshing, &thread).await;
    for _ in 0..6 {
        tokio::time::sleep(Duration::from_millis(400)).await;
        let got = refreshing.get(&thread, "", None).await.unwrap();
        assert_eq!(
            got.map(|t| t.checkpoint.id),
            Some(id),
            "a read thread must live on"
        );
    }
    // 2.4 s after the last write, every key is still there, then expires once reads stop.
    let keys = thread_keys(&url, &refreshing, &thread).await;
    assert!(keys.len() >= 9, "{keys:?}");
    tokio::time::sleep(Duration::from_millis(1300)).await;
    assert!(thread_keys(&url, &refreshing, &thread).await.is_empty());
}

#[tokio::test]
async fn reads_do_not_refresh_unless_asked() {
    let Some(url) = support::shared_server_or_skip("ttl no refresh").await else {
        return;
    };
    let saver = saver(&url, Ttl::after_write(Duration::from_millis(1000))).await;
    let thread = ThreadId::new(format!("ttl-norefresh-{}", CheckpointId::new()));
    fill(&saver, &thread).await;
    for _ in 0..3 {
        tokio::time::sleep(Duration::from_millis(400)).await;
        let _ = saver.get(&thread, "", None).await.unwrap();
    }
    assert!(saver.get(&thread, "", None).await.unwrap().is_none());
}
