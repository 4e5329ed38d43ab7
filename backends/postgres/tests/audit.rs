//! The tables as an audit log: the SQL queries documented in the README, run against
//! checkpoints a real graph wrote.

mod support;

use serde::{Deserialize, Serialize};
use serde_json::json;
use stategraph::{GraphError, NodeContext, NodeResult, Resume, State};
use stategraph_postgres::PostgresSaver;

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
struct Approval {
    decision: String,
    amount: u32,
}

#[derive(State, Clone, Debug, Default, Serialize, Deserialize)]
struct Expense {
    amount: u32,
    draft: String,
    approval: Option<Approval>,
}

#[stategraph::graph(state = Expense)]
mod expense {
    use super::*;

    #[node]
    async fn draft(s: &Expense) -> NodeResult<Expense> {
        Ok(ExpenseUpdate::new().draft(format!("claim for {}", s.amount)))
    }

    #[node]
    async fn approve(s: &Expense) -> NodeResult<Expense> {
        Ok(ExpenseUpdate::new().approval(Some(Approval {
            decision: "approved".into(),
            amount: s.amount,
        })))
    }

    edges! {
        START -> draft;
        draft -> approve;
        approve -> END;
    }
}

/// A graph whose `approve` node asks a human.
#[stategraph::graph(state = Expense)]
mod reviewed {
    use super::*;

    #[node]
    async fn approve(s: &Expense, ctx: &NodeContext) -> NodeResult<Expense> {
        let approval: Approval = ctx.interrupt(format!("approve {}?", s.amount)).await?;
        Ok(ExpenseUpdate::new().approval(Some(approval)))
    }

    edges! {
        START -> approve -> END;
    }
}

/// Query 3 of the README: every answer given to a question, who gave it, when, and what the
/// state's `approval` became.
const WHO_ANSWERED_WHAT: &str = r#"
SELECT c.thread_id, c.created_at, c.metadata ->> 'reviewer' AS reviewer,
       a ->> 'node' AS asked_by, a -> 'answer' AS answer, b.value AS approval
FROM {s}.checkpoints AS c
CROSS JOIN LATERAL jsonb_array_elements(c.metadata -> 'answers') AS a
LEFT JOIN {s}.blobs AS b
       ON b.thread_id = c.thread_id AND b.ns = c.ns AND b.channel = 'approval'
      AND b.version = (c.channel_versions ->> 'approval')::uuid
WHERE c.metadata ? 'answers'
ORDER BY c.created_at"#;

/// Query 1 of the README: every checkpoint of threads where `approved_by` is set, with its
/// time and the `approval` channel's value at that checkpoint.
const WHO_APPROVED_WHAT: &str = r#"
SELECT c.thread_id, c.created_at, c.step, c.metadata ->> 'approved_by' AS approved_by,
       b.value AS approval
FROM {s}.checkpoints AS c
LEFT JOIN {s}.blobs AS b
       ON b.thread_id = c.thread_id AND b.ns = c.ns AND b.channel = 'approval'
      AND b.version = (c.channel_versions ->> 'approval')::uuid
WHERE c.metadata ? 'approved_by'
ORDER BY c.thread_id, c.id"#;

/// Query 2 of the README: the latest status of each thread of a run.
const RUN_STATUS: &str = r#"
SELECT DISTINCT ON (c.thread_id)
       c.thread_id, c.step, c.created_at,
       CASE WHEN jsonb_array_length(c.next) = 0 THEN 'finished' ELSE 'pending' END AS status,
       c.next
FROM {s}.checkpoints AS c
WHERE c.ns = '' AND c.metadata @> '{"run_id": "run-42"}'
ORDER BY c.thread_id, c.id DESC"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn who_approved_what_and_when_and_run_status_are_sql_queries() {
    let url = require_server!();
    let schema = support::fresh_schema("audit");
    let saver = PostgresSaver::builder(url.clone())
        .schema(schema.clone())
        .connect()
        .await
        .unwrap();
    let graph = expense::graph().checkpointer(saver).compile().unwrap();
    let done = graph
        .thread("claim-1")
        .with_metadata("approved_by", "alice")
        .with_metadata("run_id", "run-42")
        .invoke(ExpenseUpdate::new().amount(120u32))
        .await
        .and_then(stategraph::Outcome::into_finished)
        .unwrap();
    assert_eq!(done.approval.unwrap().amount, 120);
    // Stopped after its first step: pending.
    let stopped = graph
        .thread("claim-2")
        .recursion_limit(1)
        .with_metadata("run_id", "run-42")
        .invoke(ExpenseUpdate::new().amount(75u32))
        .await
        .and_then(stategraph::Outcome::into_finished);
    assert!(stopped.is_err());
    graph
        .thread("claim-3")
        .with_metadata("run_id", "run-7")
        .with_metadata("approved_by", "bob")
        .invoke(ExpenseUpdate::new().amount(9u32))
        .await
        .and_then(stategraph::Outcome::into_finished)
        .unwrap();

    let client = support::sql_client(&url).await;
    let quoted = format!("\"{schema}\"");
    let rows = client
        .query(&WHO_APPROVED_WHAT.replace("{s}", &quoted), &[])
        .await
        .unwrap();
    let claim1: Vec<_> = rows
        .iter()
        .filter(|r| r.get::<_, String>(0) == "claim-1")
        .collect();
    assert_eq!(claim1.len(), 3, "input, draft, approve");
    assert!(claim1.iter().all(|r| r.get::<_, String>(3) == "alice"));
    let last: serde_json::Value = claim1[2].get(4);
    assert_eq!(last, json!({"decision": "approved", "amount": 120}));
    let times: Vec<std::time::SystemTime> = claim1.iter().map(|r| r.get(1)).collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]));
    assert!(rows.iter().any(|r| r.get::<_, String>(3) == "bob"));
    assert!(
        rows.iter().all(|r| r.get::<_, String>(0) != "claim-2"),
        "claim-2 has no approver"
    );

    let rows = client
        .query(&RUN_STATUS.replace("{s}", &quoted), &[])
        .await
        .unwrap();
    let status: Vec<(String, String)> = rows.iter().map(|r| (r.get(0), r.get(3))).collect();
    assert_eq!(
        status,
        [
            ("claim-1".to_owned(), "finished".to_owned()),
            ("claim-2".to_owned(), "pending".to_owned()),
        ]
    );
    support::drop_schema(&url, &schema).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn who_answered_which_question_and_what_it_changed_is_a_sql_query() {
    let url = require_server!();
    let schema = support::fresh_schema("audit_answers");
    let saver = PostgresSaver::builder(url.clone())
        .schema(schema.clone())
        .connect()
        .await
        .unwrap();
    let graph = reviewed::graph().checkpointer(saver).compile().unwrap();
    let asked = graph
        .thread("claim-9")
        .invoke(ExpenseUpdate::new().amount(300u32))
        .await
        .and_then(stategraph::Outcome::into_finished)
        .unwrap_err();
    assert!(matches!(asked, GraphError::Interrupted { .. }), "{asked:?}");
    graph
        .thread("claim-9")
        .with_metadata("reviewer", "carol")
        .resume_with(Resume::value(Approval {
            decision: "approved".into(),
            amount: 250,
        }))
        .await
        .and_then(stategraph::Outcome::into_finished)
        .unwrap();

    let client = support::sql_client(&url).await;
    let rows = client
        .query(
            &WHO_ANSWERED_WHAT.replace("{s}", &format!("\"{schema}\"")),
            &[],
        )
        .await
        .unwrap();
    assert_eq!(rows.len(), 1, "one answer");
    let row = &rows[0];
    assert_eq!(row.get::<_, String>(0), "claim-9");
    assert_eq!(row.get::<_, String>(2), "carol");
    assert_eq!(row.get::<_, String>(3), "approve");
    let answer: serde_json::Value = row.get(4);
    assert_eq!(answer, json!({"decision": "approved", "amount": 250}));
    let approval: serde_json::Value = row.get(5);
    assert_eq!(approval, answer, "the state took the answer");
    support::drop_schema(&url, &schema).await;
}
