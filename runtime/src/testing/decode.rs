//! Reading checkpoints back as a typed state ([`Counter`]): the backend returns the stored
//! bytes as they were written, and a value that does not decode as the state's field is a
//! [`CheckpointError::Decode`] naming the thread, checkpoint and channel — never a panic,
//! never a silent default.
//!
//! States are rebuilt with [`restore`], which is what the executor does when
//! it resumes a thread.

use serde_json::json;

use crate::{CheckpointError, CheckpointTuple, Checkpointer, State};

use super::fixtures::*;
use super::restore;
use super::state::Counter;

#[track_caller]
fn expect_decode_error(tuple: &CheckpointTuple, channel: &str) {
    match restore::<Counter>(tuple) {
        Err(
            ref error @ CheckpointError::Decode {
                ref thread_id,
                checkpoint,
                channel: ref c,
                ..
            },
        ) => {
            assert_eq!(
                thread_id, &tuple.checkpoint.thread_id,
                "Decode should name the thread"
            );
            assert_eq!(
                checkpoint, tuple.checkpoint.id,
                "Decode should name the checkpoint"
            );
            assert_eq!(c, channel, "Decode should name the channel");
            let text = error.to_string();
            for part in [
                tuple.checkpoint.thread_id.to_string(),
                tuple.checkpoint.id.to_string(),
                channel.to_owned(),
            ] {
                assert!(
                    text.contains(&part),
                    "the message should mention `{part}`: {text}"
                );
            }
        }
        Err(e) => panic!("channel `{channel}` should fail to decode with Decode, got: {e}"),
        Ok(state) => panic!(
            "channel `{channel}` holds a value that is not the field's type; rebuilding should fail, got {state:?}"
        ),
    }
}

/// A string stored where `Counter.count: i64` is expected is stored and returned as-is, and
/// rebuilding the state gives `Decode` for channel `count`.
pub async fn wrong_type_is_decode_error<C: Checkpointer + ?Sized>(saver: &C) {
    let t = thread("decode-wrong-type");
    let cp = checkpoint(&t, "")
        .snapshot("count", json!("not a number"))
        .snapshot("log", json!(["a"]))
        .put_ok(saver)
        .await;
    let got = must_get(saver, &t, "", Some(cp.id)).await;
    assert_eq!(
        value(&got, "count"),
        json!("not a number"),
        "the backend should return the stored value as-is"
    );
    expect_decode_error(&got, "count");
}

/// A delta whose writes are not the channel's write type is returned as-is, and rebuilding
/// gives `Decode` for channel `log` at the checkpoint being read.
pub async fn stored_bytes_returned_as_is<C: Checkpointer + ?Sized>(saver: &C) {
    let t = thread("decode-bad-delta");
    let cp1 = checkpoint(&t, "")
        .snapshot("count", json!(1))
        .snapshot("log", json!(["a"]))
        .put_ok(saver)
        .await;
    let cp2 = child(&cp1)
        .delta("log", json!([{"unknown_op": 1}]))
        .put_ok(saver)
        .await;
    let got = must_get(saver, &t, "", None).await;
    assert_eq!(got.checkpoint.id, cp2.id);
    let log = &got.channels["log"];
    assert_eq!(log.len(), 2, "the log should be [snapshot, delta]");
    assert_eq!(decode(&log[1].data), json!([{"unknown_op": 1}]));
    expect_decode_error(&got, "log");
    let older = must_get(saver, &t, "", Some(cp1.id)).await;
    assert!(
        restore::<Counter>(&older).is_ok(),
        "the checkpoint before the bad delta should still decode"
    );
}

/// A state encoded channel by channel (as the executor does) rebuilds equal.
pub async fn typed_state_round_trips<C: Checkpointer + ?Sized>(saver: &C) {
    let t = thread("decode-roundtrip");
    let state = Counter {
        count: -42,
        log: vec!["first".into(), "sécond \"quoted\"".into()],
    };
    let mut builder = checkpoint(&t, "");
    for (index, spec) in Counter::CHANNELS.iter().enumerate() {
        let bytes = state
            .encode_channel(index)
            .unwrap_or_else(|e| panic!("fixture error: {e}"));
        builder = builder.snapshot_bytes(spec.name, bytes);
    }
    let cp = builder.put_ok(saver).await;
    let got = must_get(saver, &t, "", Some(cp.id)).await;
    let back: Counter = restore(&got).unwrap_or_else(|e| panic!("the state should decode: {e}"));
    assert_eq!(back, state);
}

/// A log stored as snapshot → delta → delta, with `count` carried from the first checkpoint,
/// rebuilds as the snapshot plus every delta's writes, in order.
pub async fn delta_chain_rebuilds_state<C: Checkpointer + ?Sized>(saver: &C) {
    let t = thread("decode-chain");
    let [cp1, cp2, cp3] = counter_chain(saver, &t, 3).await;
    let expect = |count, log: &[&str]| Counter {
        count,
        log: log.iter().map(|s| (*s).to_owned()).collect(),
    };
    for (id, expected) in [
        (cp1.id, expect(3, &["a"])),
        (cp2.id, expect(3, &["a", "b"])),
        (cp3.id, expect(3, &["a", "b", "c", "d"])),
    ] {
        let got = must_get(saver, &t, "", Some(id)).await;
        let state: Counter =
            restore(&got).unwrap_or_else(|e| panic!("checkpoint {id} should decode: {e}"));
        assert_eq!(
            state, expected,
            "checkpoint {id} should rebuild its own state"
        );
    }
}

/// A checkpoint without a channel the state has (a field added later) rebuilds that field
/// from `Default`.
pub async fn missing_field_keeps_default<C: Checkpointer + ?Sized>(saver: &C) {
    let t = thread("decode-missing");
    let cp = checkpoint(&t, "")
        .snapshot("count", json!(5))
        .put_ok(saver)
        .await;
    let got = must_get(saver, &t, "", Some(cp.id)).await;
    let state: Counter = restore(&got).unwrap_or_else(|e| panic!("the state should decode: {e}"));
    assert_eq!(
        state,
        Counter {
            count: 5,
            log: Vec::new()
        }
    );
}

/// A stored channel the state does not have (a field renamed or removed without saying so) is
/// returned by the backend as stored, and rebuilding the state is
/// [`CheckpointError::UnknownChannel`] naming the thread, checkpoint and channel: never a state
/// that silently lost the value.
pub async fn unknown_channel_is_an_error<C: Checkpointer + ?Sized>(saver: &C) {
    let t = thread("decode-unknown");
    let cp = checkpoint(&t, "")
        .snapshot("count", json!(5))
        .snapshot("legacy", json!({"old": "field"}))
        .put_ok(saver)
        .await;
    let got = must_get(saver, &t, "", Some(cp.id)).await;
    assert_eq!(value(&got, "legacy"), json!({"old": "field"}));
    match restore::<Counter>(&got) {
        Err(CheckpointError::UnknownChannel {
            thread_id,
            checkpoint,
            channel,
        }) => {
            assert_eq!(thread_id, t);
            assert_eq!(checkpoint, cp.id);
            assert_eq!(channel, "legacy");
        }
        other => panic!("a stored channel the state lacks should be UnknownChannel, got {other:?}"),
    }
}
