//! Connecting: fail fast naming the server, builder options, Debug, and the schema created
//! when missing.

mod support;

use std::time::Duration;

use stategraph_postgres::{PostgresError, PostgresSaver};
use stategraph_runtime::{CheckpointError, Checkpointer, ThreadId};

fn backend(error: &CheckpointError) -> &PostgresError {
    match error {
        CheckpointError::Backend(source) => source.downcast_ref().expect("a PostgresError"),
        other => panic!("expected a backend error, got {other}"),
    }
}

#[tokio::test]
async fn an_unreachable_server_fails_at_connect_naming_host_and_port() {
    let port = support::free_port();
    let error = PostgresSaver::builder(format!("postgres://postgres@127.0.0.1:{port}/test"))
        .connect_timeout(Duration::from_secs(2))
        .connect()
        .await
        .unwrap_err();
    let text = error.to_string();
    assert!(text.contains(&format!("127.0.0.1:{port}")), "{text}");
    assert!(text.contains("connect"), "{text}");
    let pg = backend(&error);
    assert_eq!(pg.operation(), "connect");
    assert!(pg.is_connection_error(), "{pg:?}");
}

#[tokio::test]
async fn a_malformed_url_or_schema_name_is_a_clear_error() {
    let error = PostgresSaver::connect("postgres://u@h:notaport/x")
        .await
        .unwrap_err();
    assert!(error.to_string().contains("connect"), "{error}");
    let error = PostgresSaver::builder("postgres://postgres@127.0.0.1/test")
        .schema("bad-name; drop")
        .connect()
        .await
        .unwrap_err();
    assert!(
        error.to_string().contains("not a valid schema name"),
        "{error}"
    );
}

#[tokio::test]
async fn builder_options_apply_and_the_schema_is_created() {
    let url = require_server!();
    let schema = support::fresh_schema("builder");
    let saver = PostgresSaver::builder(url.clone())
        .pool_size(3)
        .schema(schema.clone())
        .connect()
        .await
        .unwrap();
    assert_eq!(saver.pool_size(), 3);
    assert_eq!(saver.schema(), schema);
    let debug = format!("{saver:?}");
    assert!(
        debug.contains("PostgresSaver") && debug.contains(&schema),
        "{debug}"
    );
    assert!(
        debug.contains("127.0.0.1:5432") || !url.contains("127.0.0.1:5432"),
        "{debug}"
    );
    assert!(
        saver
            .get(&ThreadId::new("t"), "", None)
            .await
            .unwrap()
            .is_none()
    );
    // setup is idempotent.
    saver.setup().await.unwrap();
    saver.setup().await.unwrap();
    // The default connect uses schema `stategraph`.
    let default = PostgresSaver::connect(url.clone()).await.unwrap();
    assert_eq!(default.schema(), "stategraph");
    let client = support::sql_client(&url).await;
    let tables: i64 = client
        .query_one(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = $1",
            &[&schema],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(
        tables, 8,
        "checkpoints, blobs, writes, heads, owners, cache, store, migrations"
    );
    support::drop_schema(&url, &schema).await;
}

#[tokio::test]
async fn a_killed_connection_is_replaced() {
    let url = require_server!();
    let schema = support::fresh_schema("replace");
    let separator = if url.contains('?') { '&' } else { '?' };
    let saver = PostgresSaver::builder(format!("{url}{separator}application_name={schema}"))
        .pool_size(1)
        .schema(schema.clone())
        .connect()
        .await
        .unwrap();
    let thread = ThreadId::new("t");
    assert!(saver.get(&thread, "", None).await.unwrap().is_none());
    // Terminate the pool's only connection from outside.
    let client = support::sql_client(&url).await;
    client
        .batch_execute(&format!(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
             WHERE application_name = '{schema}'"
        ))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    for _ in 0..3 {
        assert!(saver.get(&thread, "", None).await.unwrap().is_none());
    }
    support::drop_schema(&url, &schema).await;
}
