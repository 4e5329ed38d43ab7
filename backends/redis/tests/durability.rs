//! `setup()` refuses servers that would lose checkpoints on restart, says which setting to
//! change, and accepts them only with the explicit `allow_volatile` opt-in.

mod support;

use std::time::Duration;

use stategraph_redis::{RedisError, RedisSaver};
use stategraph_runtime::CheckpointError;
use support::RedisServer;

fn redis_error(error: &CheckpointError) -> &RedisError {
    match error {
        CheckpointError::Backend(source) => source
            .downcast_ref::<RedisError>()
            .expect("a RedisError inside CheckpointError::Backend"),
        other => panic!("expected a backend error, got {other:?}"),
    }
}

async fn refused(url: &str) -> String {
    let error = RedisSaver::connect(url)
        .await
        .expect_err("setup must refuse this server");
    let redis = redis_error(&error);
    assert!(redis.is_durability_refusal(), "{error}");
    assert_eq!(redis.operation(), "setup");
    error.to_string()
}

#[tokio::test]
async fn no_aof_is_refused_with_the_settings_to_change() {
    let server = RedisServer::start(&["--appendonly", "no", "--save", ""]);
    let message = refused(&server.url()).await;
    for needle in [
        "`appendonly` is `no`",
        "CONFIG SET appendonly yes",
        "CONFIG SET appendfsync everysec",
        "redis.conf",
        "allow_volatile(true)",
    ] {
        assert!(
            message.contains(needle),
            "`{needle}` missing from: {message}"
        );
    }
}

#[tokio::test]
async fn rdb_snapshots_alone_are_refused() {
    let server = RedisServer::start(&["--appendonly", "no", "--save", "60 1"]);
    let message = refused(&server.url()).await;
    assert!(message.contains("save 60 1"), "{message}");
}

#[tokio::test]
async fn appendfsync_no_is_refused() {
    let server = RedisServer::start(&["--appendonly", "yes", "--appendfsync", "no"]);
    let message = refused(&server.url()).await;
    assert!(message.contains("`appendfsync` is `no`"), "{message}");
    assert!(
        message.contains("CONFIG SET appendfsync everysec"),
        "{message}"
    );
}

#[tokio::test]
async fn aof_everysec_and_always_are_accepted() {
    for fsync in ["everysec", "always"] {
        let server = RedisServer::start(&["--appendonly", "yes", "--appendfsync", fsync]);
        RedisSaver::connect(&server.url())
            .await
            .unwrap_or_else(|e| panic!("appendfsync {fsync} must be accepted: {e}"));
    }
}

#[tokio::test]
async fn disabled_config_is_refused_and_says_so() {
    let server = RedisServer::start(&["--appendonly", "yes", "--rename-command", "CONFIG", ""]);
    let message = refused(&server.url()).await;
    assert!(message.contains("CONFIG"), "{message}");
    assert!(message.contains("Managed Redis"), "{message}");
    assert!(message.contains("allow_volatile(true)"), "{message}");
    RedisSaver::builder(&server.url())
        .allow_volatile(true)
        .connect()
        .await
        .expect("the opt-in accepts a server whose settings cannot be read");
}

#[tokio::test]
async fn volatile_opt_in_is_accepted() {
    let server = RedisServer::start(&["--appendonly", "no", "--save", ""]);
    let saver = RedisSaver::builder(&server.url())
        .allow_volatile(true)
        .connect()
        .await
        .expect("allow_volatile accepts a server without persistence");
    let debug = format!("{saver:?}");
    assert!(debug.contains("allow_volatile: true"), "{debug}");
}

#[tokio::test]
async fn the_shared_server_without_persistence_is_refused_by_default() {
    let Some(url) = support::shared_server_or_skip("shared server refusal").await else {
        return;
    };
    let message = refused(&url).await;
    assert!(message.contains("CONFIG SET appendonly yes"), "{message}");
}

#[tokio::test]
async fn an_unreachable_server_fails_fast_and_clearly() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let url = format!("redis://127.0.0.1:{port}");
    // Failing at `connect`, not on the first checkpoint, is what "fast" means here; how many
    // milliseconds that takes is the machine's business, not a test's.
    let error = RedisSaver::builder(&url)
        .connect_timeout(Duration::from_secs(1))
        .connect()
        .await
        .expect_err("nothing listens there");
    let message = error.to_string();
    assert!(message.contains("cannot connect"), "{message}");
    assert!(message.contains(&url), "{message}");
    assert_eq!(redis_error(&error).operation(), "connect");
}

#[tokio::test]
async fn passwords_never_reach_debug_output() {
    let server = RedisServer::start(&["--appendonly", "yes", "--requirepass", "s3cret"]);
    let url = format!(
        "redis://:s3cret@127.0.0.1:{}",
        server.url().rsplit(':').next().unwrap()
    );
    let saver = RedisSaver::connect(&url).await.expect("password accepted");
    let debug = format!("{saver:?}");
    assert!(!debug.contains("s3cret"), "{debug}");
}
