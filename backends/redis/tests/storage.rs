//! The key layout, exact paging and filtering over many pages, and corrupt values reported
//! as `CheckpointError::Corrupt` instead of panics.

mod support;

use std::collections::BTreeMap;

use stategraph_redis::RedisSaver;
use stategraph_runtime::{
    BlobKind, ChannelBlob, Checkpoint, CheckpointError, CheckpointId, CheckpointMetadata,
    Checkpointer, ListQuery, NewCheckpoint, PutMode, Source, ThreadId, now,
};

fn checkpoint(thread: &ThreadId, parent: Option<CheckpointId>, step: i64) -> NewCheckpoint {
    let id = CheckpointId::new();
    let mut user = serde_json::Map::new();
    user.insert("hundred".into(), serde_json::json!(step % 100 == 0));
    NewCheckpoint {
        checkpoint: Checkpoint {
            id,
            thread_id: thread.clone(),
            ns: String::new(),
            parent_id: parent,
            created_at: now(),
            channel_versions: BTreeMap::from([("count".to_owned(), id)]),
            next: vec!["node".to_owned()],
            barriers: BTreeMap::new(),
            metadata: {
                let mut metadata = CheckpointMetadata::new(Source::Loop, step);
                metadata.user = user;
                metadata
            },
        },
        blobs: vec![ChannelBlob {
            channel: "count".to_owned(),
            version: id,
            kind: BlobKind::Snapshot,
            data: step.to_string().into_bytes(),
        }],
        mode: PutMode::Advance,
        epoch: None,
    }
}

async fn chain(saver: &RedisSaver, thread: &ThreadId, n: i64) -> Vec<CheckpointId> {
    let mut ids: Vec<CheckpointId> = Vec::new();
    for step in 0..n {
        let put = checkpoint(thread, ids.last().copied(), step);
        ids.push(put.checkpoint.id);
        saver.put(put).await.unwrap();
    }
    ids
}

#[tokio::test]
async fn every_key_of_a_thread_shares_its_hash_tag() {
    let Some(url) = support::shared_server_or_skip("hash tags").await else {
        return;
    };
    let saver = support::volatile_saver(&url).await;
    let thread = ThreadId::new(format!("odd{{id}}%-{}", CheckpointId::new()));
    chain(&saver, &thread, 2).await;
    let escaped = thread
        .as_str()
        .replace('%', "%25")
        .replace('{', "%7B")
        .replace('}', "%7D");
    let keys = support::keys(&url, &format!("{}:*{escaped}*", saver.key_prefix())).await;
    assert!(keys.len() >= 5, "{keys:?}");
    for key in &keys {
        let tag = &key[key.find('{').unwrap() + 1..key.find('}').unwrap()];
        assert_eq!(tag, escaped, "{key} is not on the thread's slot");
    }
    let got = saver.get(&thread, "", None).await.unwrap().unwrap();
    assert_eq!(got.checkpoint.thread_id, thread);
}

#[tokio::test]
async fn sparse_filters_page_exactly_and_limit_counts_matches() {
    let Some(url) = support::shared_server_or_skip("sparse filters").await else {
        return;
    };
    let saver = support::volatile_saver(&url).await;
    let thread = ThreadId::new(format!("sparse-{}", CheckpointId::new()));
    let ids = chain(&saver, &thread, 650).await;
    let query = ListQuery::thread(thread.clone()).filter("hundred", true);
    let all = saver.list(&query).await.unwrap();
    let steps: Vec<i64> = all.iter().map(|t| t.checkpoint.metadata.step).collect();
    assert_eq!(steps, vec![600, 500, 400, 300, 200, 100, 0]);
    let limited = saver.list(&query.clone().limit(3)).await.unwrap();
    let steps: Vec<i64> = limited.iter().map(|t| t.checkpoint.metadata.step).collect();
    assert_eq!(steps, vec![600, 500, 400]);
    let before = saver
        .list(&query.clone().before(ids[400]).limit(2))
        .await
        .unwrap();
    let steps: Vec<i64> = before.iter().map(|t| t.checkpoint.metadata.step).collect();
    assert_eq!(steps, vec![300, 200]);
    // Across every thread (no thread given), with a filter only this thread matches.
    let mut across = ListQuery::default().filter("step", 650 - 1).limit(1000);
    across
        .filter
        .insert("hundred".into(), serde_json::json!(false));
    let found = saver.list(&across).await.unwrap();
    assert!(found.iter().any(|t| t.checkpoint.id == ids[649]));
}

#[tokio::test]
async fn corrupt_values_are_errors_not_panics() {
    let Some(url) = support::shared_server_or_skip("corruption").await else {
        return;
    };
    // Its own prefix: its corrupt threads stay out of the other tests' listings.
    let saver = RedisSaver::builder(&url)
        .key_prefix(format!("{}-corrupt", support::prefix()))
        .allow_volatile(true)
        .connect()
        .await
        .unwrap();
    let mut conn = support::raw(&url).await;
    let base = |t: &ThreadId| format!("{}:{{{}}}", saver.key_prefix(), t);

    // A record that is not JSON.
    let thread = ThreadId::new(format!("corrupt-record-{}", CheckpointId::new()));
    let ids = chain(&saver, &thread, 2).await;
    let _: () = redis::cmd("HSET")
        .arg(format!("{}:cp:", base(&thread)))
        .arg(ids[1].to_string())
        .arg("{not json")
        .query_async(&mut conn)
        .await
        .unwrap();
    let error = saver.get(&thread, "", None).await.unwrap_err();
    assert!(
        matches!(&error, CheckpointError::Corrupt { checkpoint, .. } if *checkpoint == ids[1]),
        "{error}"
    );
    assert!(
        saver
            .list(&ListQuery::thread(thread.clone()))
            .await
            .is_err()
    );
    saver.delete_thread(&thread).await.unwrap();

    // A missing blob and a blob with an unknown tag.
    let thread = ThreadId::new(format!("corrupt-blob-{}", CheckpointId::new()));
    let ids = chain(&saver, &thread, 2).await;
    let blobs = format!("{}:blobs:", base(&thread));
    let _: () = redis::cmd("HDEL")
        .arg(&blobs)
        .arg(format!("{}count", ids[1]))
        .query_async(&mut conn)
        .await
        .unwrap();
    let error = saver.get(&thread, "", None).await.unwrap_err();
    assert!(error.to_string().contains("has no blob"), "{error}");
    let _: () = redis::cmd("HSET")
        .arg(&blobs)
        .arg(format!("{}count", ids[0]))
        .arg("Xgarbage")
        .query_async(&mut conn)
        .await
        .unwrap();
    let error = saver.get(&thread, "", Some(ids[0])).await.unwrap_err();
    assert!(error.to_string().contains("does not decode"), "{error}");
    // Pruning a thread whose latest chain is broken changes nothing.
    let before = support::keys(&url, &format!("{}*", base(&thread))).await;
    assert!(
        saver
            .prune(
                std::slice::from_ref(&thread),
                stategraph_runtime::Prune::KeepLatest
            )
            .await
            .is_err()
    );
    assert_eq!(
        support::keys(&url, &format!("{}*", base(&thread))).await,
        before
    );
    // Deleting needs no decoding, so corrupt threads can be cleaned up.
    saver.delete_thread(&thread).await.unwrap();
}

/// A thread whose head record is not JSON is left out of listings (and reported), instead of
/// failing a listing of every thread and the sweeps built on it.
#[tokio::test]
async fn a_thread_whose_head_record_is_garbage_is_left_out_of_listings() {
    let Some(url) = support::shared_server_or_skip("unreadable").await else {
        return;
    };
    let saver = RedisSaver::builder(&url)
        .key_prefix(format!("{}-unreadable", support::prefix()))
        .allow_volatile(true)
        .connect()
        .await
        .unwrap();
    let conn = support::raw(&url).await;
    let base = |t: &ThreadId| format!("{}:{{{}}}", saver.key_prefix(), t);
    stategraph_runtime::testing::threads::listing_skips_an_unreadable_thread(&saver, |t| {
        let (key, mut conn) = (format!("{}:cp:", base(&t)), conn.clone());
        let saver = &saver;
        async move {
            let head = saver
                .get(&t, "", None)
                .await
                .unwrap()
                .unwrap()
                .checkpoint
                .id;
            let _: () = redis::cmd("HSET")
                .arg(key)
                .arg(head.to_string())
                .arg("{not json")
                .query_async(&mut conn)
                .await
                .unwrap();
        }
    })
    .await;
}
