//! Tools and the tool node: `#[tool]` functions described to the model by their doc comments
//! and argument schemas, each tool call of a model's turn run as its own task, failures
//! answered as error tool messages the model reads, and the tools' view of the state,
//! dependencies and Store.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use stategraph::agent::messages::{AiMessage, ChatMessage, ToolCall, ToolStatus};
use stategraph::agent::model::{ChatModel, ChatModelExt, ScriptedModel};
use stategraph::agent::tools::{Tool, ToolContext, ToolNode, ToolOutput};
use stategraph::store::Namespace;
use stategraph::{
    Checkpointer, MemorySaver, MemoryStore, NodeContext, NodeError, NodeResult, State, Store,
    StoreExt,
};

#[derive(State, Clone, Debug, Default, Serialize, Deserialize)]
struct Chat {
    #[state(reducer = messages)]
    messages: Vec<ChatMessage>,
    user: String,
}

struct Deps {
    model: Arc<dyn ChatModel>,
    lookups: AtomicUsize,
}

/// The arguments of `weather`.
#[derive(Deserialize, JsonSchema)]
struct City {
    /// The city's name.
    city: String,
}

/// Tells the weather in a city.
#[stategraph::tool]
async fn weather(args: City) -> Result<String, NodeError> {
    if args.city == "Atlantis" {
        return Err("no weather station there".into());
    }
    Ok(format!("Sunny in {}", args.city))
}

/// Counts a lookup in the dependencies and reads the user from the state.
#[stategraph::tool]
async fn whoami(ctx: &ToolContext<Chat, Deps>) -> Result<String, NodeError> {
    ctx.deps().lookups.fetch_add(1, Ordering::SeqCst);
    Ok(format!("you are {}", ctx.state().user))
}

/// What to remember.
#[derive(Deserialize, JsonSchema)]
struct Note {
    /// The text to keep.
    text: String,
}

/// Keeps a note in the Store, returning its key and the note as an artifact.
#[stategraph::tool(name = "remember")]
async fn keep_note(args: Note, ctx: &ToolContext<Chat, Deps>) -> Result<ToolOutput, NodeError> {
    let store = ctx.store().ok_or("no store")?;
    let ns = Namespace::new(["notes", ctx.state().user.as_str()])?;
    store
        .put(
            &ns,
            &ctx.call().id,
            &serde_json::json!({ "text": args.text }),
            None,
        )
        .await?;
    Ok(ToolOutput::new("kept").with_artifact(serde_json::json!({ "key": ctx.call().id })))
}

#[stategraph::graph(state = Chat, deps = Deps)]
mod assistant {
    use super::*;

    #[node]
    async fn model(s: &Chat, ctx: &NodeContext<Deps>) -> NodeResult<Chat> {
        let reply = ctx
            .deps()
            .model
            .clone()
            .bind_tools(tools().specs())
            .invoke(&s.messages)
            .await?;
        Ok(ChatUpdate::new().messages(ChatMessage::from(reply)))
    }

    #[tools]
    fn tools() -> ToolNode<Chat, Deps> {
        ToolNode::new().tool(weather).tool(whoami).tool(keep_note)
    }

    edges! {
        START -> model;
        model -> tools_condition { Tools => tools, End => END };
        tools -> model;
    }
}

fn compiled(model: ScriptedModel) -> (assistant::Compiled, Arc<Deps>) {
    let (graph, deps, _) = compiled_on(Arc::new(model));
    (graph, deps)
}

fn compiled_on(model: Arc<dyn ChatModel>) -> (assistant::Compiled, Arc<Deps>, Arc<MemorySaver>) {
    let deps = Arc::new(Deps {
        model,
        lookups: AtomicUsize::new(0),
    });
    let saver = Arc::new(MemorySaver::new());
    let graph = assistant::graph(Arc::clone(&deps))
        .checkpointer(Arc::clone(&saver))
        .store(MemoryStore::new())
        .compile()
        .unwrap();
    (graph, deps, saver)
}

fn input(text: &str) -> ChatUpdate {
    ChatUpdate::new()
        .messages(ChatMessage::human(text))
        .user("ada".to_owned())
}

fn tool_messages(chat: &Chat) -> Vec<(&str, ToolStatus, String)> {
    chat.messages
        .iter()
        .filter_map(|m| match m {
            ChatMessage::Tool(t) => Some((t.tool_call_id.as_str(), t.status, t.text())),
            _ => None,
        })
        .collect()
}

#[test]
fn a_tools_spec_has_the_doc_comment_and_the_argument_schema() {
    let spec = <weather as Tool<Chat, Deps>>::spec(&weather);
    assert_eq!(spec.name, "weather");
    assert_eq!(spec.description, "Tells the weather in a city.");
    assert_eq!(
        spec.parameters["properties"]["city"]["description"],
        "The city's name."
    );
    assert_eq!(spec.parameters["required"], serde_json::json!(["city"]));
    let renamed = <keep_note as Tool<Chat, Deps>>::spec(&keep_note);
    assert_eq!(renamed.name, "remember");
    let none = <whoami as Tool<Chat, Deps>>::spec(&whoami);
    assert_eq!(none.parameters["type"], "object");
}

#[tokio::test]
async fn the_function_stays_callable() {
    let text = weather::run(City {
        city: "Oslo".into(),
    })
    .await
    .unwrap();
    assert_eq!(text, "Sunny in Oslo");
}

#[tokio::test]
async fn each_tool_call_is_answered_in_call_order_and_the_model_sees_the_results() {
    let calls = vec![
        ToolCall::new("weather", serde_json::json!({ "city": "Oslo" })).with_id("c1"),
        ToolCall::new("whoami", serde_json::json!({})).with_id("c2"),
        ToolCall::new("weather", serde_json::json!({ "city": "Lima" })).with_id("c3"),
    ];
    let model = Arc::new(
        ScriptedModel::new()
            .message(AiMessage::with_tool_calls("", calls))
            .reply("Oslo and Lima are sunny, ada."),
    );
    let (graph, deps, saver) = compiled_on(Arc::clone(&model) as Arc<dyn ChatModel>);
    let done = graph
        .thread("parallel")
        .invoke(input("weather?"))
        .await
        .unwrap()
        .into_finished()
        .unwrap();
    assert_eq!(
        tool_messages(&done),
        vec![
            ("c1", ToolStatus::Success, "Sunny in Oslo".to_owned()),
            ("c2", ToolStatus::Success, "you are ada".to_owned()),
            ("c3", ToolStatus::Success, "Sunny in Lima".to_owned()),
        ]
    );
    assert_eq!(deps.lookups.load(Ordering::SeqCst), 1);
    assert_eq!(
        done.messages.last().unwrap().text(),
        "Oslo and Lima are sunny, ada."
    );
    // human, ai (3 calls), 3 tool messages, ai
    assert_eq!(done.messages.len(), 6);
    // The three calls ran in one step, as three tasks.
    let history = graph.thread("parallel").history().limit(20).await.unwrap();
    let tool_step = history
        .iter()
        .find(|snapshot| snapshot.next.contains(&assistant::Node::Tools))
        .expect("a checkpoint schedules the tool node");
    let tuple = saver
        .get(&"parallel".into(), "", Some(tool_step.checkpoint_id))
        .await
        .unwrap()
        .unwrap();
    let mut tasks: Vec<_> = tuple.pending_writes.iter().map(|w| w.task_id).collect();
    tasks.sort_unstable();
    tasks.dedup();
    assert_eq!(tasks.len(), 3, "one task, with its own writes, per call");
    // The second model call read the three results, and was offered the three tools.
    let calls = model.calls();
    let (seen, request) = &calls[1];
    assert_eq!(
        seen.iter()
            .filter(|m| matches!(m, ChatMessage::Tool(_)))
            .count(),
        3
    );
    let offered: Vec<&str> = request.tools.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(offered, ["weather", "whoami", "remember"]);
}

#[tokio::test]
async fn wrong_arguments_a_failing_tool_and_an_unknown_tool_are_error_messages_the_model_reads() {
    let calls = vec![
        ToolCall::new("weather", serde_json::json!({ "town": "Oslo" })).with_id("bad-args"),
        ToolCall::new("weather", serde_json::json!({ "city": "Atlantis" })).with_id("fails"),
        ToolCall::new("teleport", serde_json::json!({})).with_id("unknown"),
    ];
    let model = ScriptedModel::new()
        .message(AiMessage::with_tool_calls("", calls))
        .reply("Sorry.");
    let (graph, _) = compiled(model);
    let done = graph
        .thread("errors")
        .invoke(input("go"))
        .await
        .unwrap()
        .into_finished()
        .unwrap();
    let answers = tool_messages(&done);
    assert_eq!(answers.len(), 3);
    assert!(
        answers
            .iter()
            .all(|(_, status, _)| *status == ToolStatus::Error)
    );
    assert!(
        answers[0].2.contains("missing field `city`"),
        "{}",
        answers[0].2
    );
    assert!(
        answers[1].2.contains("no weather station there"),
        "{}",
        answers[1].2
    );
    assert!(
        answers[2].2.contains("`teleport` is not a valid tool")
            && answers[2].2.contains("weather, whoami, remember"),
        "{}",
        answers[2].2
    );
    assert_eq!(done.messages.last().unwrap().text(), "Sorry.");
}

#[tokio::test]
async fn a_tool_writes_to_the_store_and_keeps_an_artifact_beside_its_message() {
    let call = ToolCall::new("remember", serde_json::json!({ "text": "likes tea" })).with_id("n1");
    let model = ScriptedModel::new()
        .message(AiMessage::with_tool_calls("", vec![call]))
        .reply("Noted.");
    let store = Arc::new(MemoryStore::new());
    let graph = assistant::graph(Deps {
        model: Arc::new(model),
        lookups: AtomicUsize::new(0),
    })
    .checkpointer(MemorySaver::new())
    .store(Arc::clone(&store))
    .compile()
    .unwrap();
    let done = graph
        .thread("notes")
        .invoke(input("remember that I like tea"))
        .await
        .unwrap()
        .into_finished()
        .unwrap();
    let ChatMessage::Tool(answer) = &done.messages[2] else {
        panic!("expected a tool message, got {:?}", done.messages[2]);
    };
    assert_eq!(answer.artifact, Some(serde_json::json!({ "key": "n1" })));
    assert_eq!(answer.name(), Some("remember"));
    let ns = Namespace::new(["notes", "ada"]).unwrap();
    let item = store
        .get(&ns, "n1", false)
        .await
        .unwrap()
        .expect("the note is stored");
    assert_eq!(item.value["text"], "likes tea");
}

#[tokio::test]
async fn without_tool_calls_the_run_takes_the_end_arm() {
    let (graph, _) = compiled(ScriptedModel::new().reply("Hello."));
    let done = graph
        .thread("no-tools")
        .invoke(input("hi"))
        .await
        .unwrap()
        .into_finished()
        .unwrap();
    assert_eq!(done.messages.len(), 2);
    assert!(tool_messages(&done).is_empty());
}

mod raising {
    use super::*;

    #[stategraph::graph(state = Chat)]
    mod strict {
        use super::*;

        #[node]
        async fn model(s: &Chat) -> NodeResult<Chat> {
            if s.messages.len() > 1 {
                return Ok(ChatUpdate::new().messages(ChatMessage::from(AiMessage::new("done"))));
            }
            let call = ToolCall::new("weather", serde_json::json!({ "city": "Atlantis" }));
            Ok(
                ChatUpdate::new().messages(ChatMessage::from(AiMessage::with_tool_calls(
                    "",
                    vec![call],
                ))),
            )
        }

        #[tools]
        fn tools() -> ToolNode<Chat> {
            ToolNode::new().tool(weather).raise_errors()
        }

        edges! {
            START -> model;
            model -> tools_condition { Tools => tools, End => END };
            tools -> model;
        }
    }

    #[tokio::test]
    async fn raise_errors_fails_the_run_with_the_tools_error() {
        let graph = strict::graph()
            .checkpointer(MemorySaver::new())
            .compile()
            .unwrap();
        let error = graph
            .thread("strict")
            .invoke(input("go"))
            .await
            .unwrap_err();
        assert!(
            error.to_string().contains("no weather station there"),
            "{error}"
        );
    }
}

mod policies {
    use super::*;

    static ATTEMPTS: AtomicUsize = AtomicUsize::new(0);

    /// Fails its first attempt, as a flaky service does.
    #[stategraph::tool]
    async fn flaky() -> Result<String, NodeError> {
        match ATTEMPTS.fetch_add(1, Ordering::SeqCst) {
            0 => Err("the service hiccuped".into()),
            _ => Ok("fine".to_owned()),
        }
    }

    #[stategraph::graph(state = Chat)]
    mod retried {
        use super::*;

        #[node]
        async fn model(s: &Chat) -> NodeResult<Chat> {
            if s.messages.len() > 1 {
                return Ok(ChatUpdate::new().messages(AiMessage::new("done")));
            }
            let call = ToolCall::new("flaky", serde_json::json!({}));
            Ok(ChatUpdate::new().messages(AiMessage::with_tool_calls("", vec![call])))
        }

        #[tools(retry = 2)]
        fn tools() -> ToolNode<Chat> {
            ToolNode::new().tool(flaky).raise_errors()
        }

        edges! {
            START -> model;
            model -> tools_condition { Tools => tools, End => END };
            tools -> model;
        }
    }

    #[tokio::test]
    async fn a_tool_nodes_retry_policy_retries_each_call() {
        let graph = retried::graph()
            .checkpointer(MemorySaver::new())
            .compile()
            .unwrap();
        let done = graph
            .thread("flaky")
            .invoke(input("go"))
            .await
            .unwrap()
            .into_finished()
            .unwrap();
        assert_eq!(tool_messages(&done)[0].2, "fine");
        assert_eq!(ATTEMPTS.load(Ordering::SeqCst), 2);
    }
}

mod time_limits {
    use super::*;

    /// Never answers in time.
    #[stategraph::tool]
    async fn stuck() -> Result<String, NodeError> {
        tokio::time::sleep(std::time::Duration::from_secs(30)).await;
        Ok("late".to_owned())
    }

    #[stategraph::graph(state = Chat)]
    mod limited {
        use super::*;

        #[node]
        async fn model(_: &Chat) -> NodeResult<Chat> {
            let call = ToolCall::new("stuck", serde_json::json!({}));
            Ok(ChatUpdate::new().messages(AiMessage::with_tool_calls("", vec![call])))
        }

        #[tools(timeout = std::time::Duration::from_millis(50))]
        fn tools() -> ToolNode<Chat> {
            ToolNode::new().tool(stuck)
        }

        edges! {
            START -> model;
            model -> tools_condition { Tools => tools, End => END };
            tools -> model;
        }
    }

    #[tokio::test]
    async fn a_tool_nodes_time_limit_ends_a_call_that_hangs() {
        let graph = limited::graph()
            .checkpointer(MemorySaver::new())
            .compile()
            .unwrap();
        let error = graph.thread("stuck").invoke(input("go")).await.unwrap_err();
        assert!(
            error.to_string().contains("did not finish within 50ms"),
            "{error}"
        );
    }
}
