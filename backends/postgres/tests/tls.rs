//! With the `tls` feature: plain connections still work, and `sslmode=require` against a
//! server without TLS (the test server has none) fails at connect with a clear error.
#![cfg(feature = "tls")]

mod support;

use stategraph_postgres::PostgresSaver;
use stategraph_runtime::{Checkpointer, ThreadId};

#[tokio::test]
async fn plain_and_prefer_connections_still_work() {
    let url = require_server!();
    let schema = support::fresh_schema("tls_plain");
    let separator = if url.contains('?') { '&' } else { '?' };
    for mode in ["disable", "prefer"] {
        let saver = PostgresSaver::builder(format!("{url}{separator}sslmode={mode}"))
            .schema(schema.clone())
            .connect()
            .await
            .unwrap_or_else(|e| panic!("sslmode={mode}: {e}"));
        assert!(
            saver
                .get(&ThreadId::new("t"), "", None)
                .await
                .unwrap()
                .is_none()
        );
    }
    support::drop_schema(&url, &schema).await;
}

#[tokio::test]
async fn sslmode_require_against_a_server_without_tls_is_a_clear_error() {
    // A private instance: initdb leaves `ssl = off`.
    let Some(server) = support::PrivatePostgres::start() else {
        return;
    };
    let error = PostgresSaver::connect(format!("{}?sslmode=require", server.url))
        .await
        .unwrap_err();
    let text = error.to_string();
    assert!(text.contains("connect"), "{text}");
    assert!(
        text.contains(&format!("127.0.0.1:{}", server.port)),
        "{text}"
    );
    assert!(
        text.to_lowercase().contains("tls") || text.to_lowercase().contains("ssl"),
        "the error should say the server refused TLS: {text}"
    );
    // Plain connections to it still work.
    let saver = PostgresSaver::connect(server.url.clone()).await.unwrap();
    assert!(
        saver
            .get(&ThreadId::new("t"), "", None)
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn require_encrypts_and_verify_certificates_checks_the_issuer() {
    let url = require_server!();
    let separator = if url.contains('?') { '&' } else { '?' };
    let required = format!("{url}{separator}sslmode=require");
    let client = support::sql_client(&url).await;
    let ssl: String = client.query_one("SHOW ssl", &[]).await.unwrap().get(0);
    if ssl != "on" {
        eprintln!("SKIPPED: the test server has no TLS (ssl = {ssl})");
        return;
    }
    // Encrypted, as libpq's `require`: the server's self-signed certificate is accepted.
    let schema = support::fresh_schema("tls_require");
    let saver = PostgresSaver::builder(required.clone())
        .schema(schema.clone())
        .connect()
        .await
        .unwrap();
    assert!(
        saver
            .get(&ThreadId::new("t"), "", None)
            .await
            .unwrap()
            .is_none()
    );
    support::drop_schema(&url, &schema).await;
    // Verified: a certificate no platform root issued is refused, naming the reason.
    let error = PostgresSaver::builder(required)
        .verify_certificates(true)
        .connect()
        .await
        .unwrap_err();
    assert!(error.to_string().contains("certificate"), "{error}");
}
