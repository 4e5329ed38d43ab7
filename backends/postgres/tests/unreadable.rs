//! A thread whose stored metadata no longer reads as checkpoint metadata (a stray `UPDATE`) is
//! left out of listings that must read it, and never fails a listing of every thread, nor the
//! retention sweep built on it.

mod support;

use stategraph_postgres::PostgresSaver;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thread_whose_metadata_is_damaged_does_not_break_listings() {
    let url = require_server!();
    let schema = support::fresh_schema("unreadable");
    let saver = PostgresSaver::builder(url.clone())
        .schema(schema.clone())
        .connect()
        .await
        .unwrap();
    let client = support::sql_client(&url).await;
    let sql = format!(
        "UPDATE \"{schema}\".checkpoints SET metadata = '{{\"source\": 5, \"team\": \"blue\"}}' WHERE thread_id = $1"
    );
    stategraph_runtime::testing::threads::listing_skips_an_unreadable_thread(&saver, |t| {
        let (client, sql) = (&client, &sql);
        async move {
            let changed = client.execute(sql.as_str(), &[&t.as_str()]).await.unwrap();
            assert_eq!(changed, 1);
        }
    })
    .await;
    support::drop_schema(&url, &schema).await;
}
