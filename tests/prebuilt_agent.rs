//! The prebuilt tool-calling agent: a model calling tools until it answers, with a system
//! prompt, a structured response, hooks before and after each model call and tools needing
//! approval — built on the DSL, so it checkpoints, pauses, streams, travels in time and runs
//! as a subgraph like any graph.

use std::sync::Arc;

use futures::StreamExt;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use stategraph::agent::hooks::Summarize;
use stategraph::agent::messages::{AiMessage, ChatMessage, ToolCall, ToolStatus};
use stategraph::agent::model::{ChatModel, ModelError, ScriptedModel};
use stategraph::agent::tools::{ApprovalRequest, Decision, ToolContext};
use stategraph::agent::trim::Trim;
use stategraph::prebuilt::{Agent, AgentState, AgentStateUpdate, react_agent};
use stategraph::sqlite::SqliteSaver;
use stategraph::{
    EventData, GraphError, MemorySaver, NodeError, NodeResult, Resume, State, StreamMode,
};

/// The arguments of `add`.
#[derive(Deserialize, JsonSchema)]
struct Pair {
    /// The first number.
    a: i64,
    /// The second number.
    b: i64,
}

/// Adds two numbers.
#[stategraph::tool]
async fn add(args: Pair) -> Result<String, NodeError> {
    Ok((args.a + args.b).to_string())
}

/// The unit prices the agent was given.
struct Prices {
    tea: i64,
}

/// Reads the price of tea from the agent's context.
#[stategraph::tool]
async fn tea_price(ctx: &ToolContext<AgentState, Agent>) -> Result<String, NodeError> {
    let prices = ctx.deps().context::<Prices>().ok_or("no prices")?;
    Ok(prices.tea.to_string())
}

/// The agent's graph on an in-memory saver.
fn in_memory(agent: Agent) -> react_agent::Compiled {
    agent
        .graph()
        .checkpointer(MemorySaver::new())
        .compile()
        .unwrap()
}

fn ask(text: &str) -> AgentStateUpdate {
    AgentStateUpdate::new().messages(ChatMessage::human(text))
}

fn calls(script: &ScriptedModel) -> Vec<Vec<ChatMessage>> {
    script
        .calls()
        .into_iter()
        .map(|(messages, _)| messages)
        .collect()
}

#[tokio::test]
async fn the_agent_calls_tools_until_it_answers_on_sqlite_and_its_history_travels_back() {
    let dir = std::env::temp_dir().join(format!("sg-prebuilt-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let model = Arc::new(
        ScriptedModel::new()
            .tool_calls(vec![
                ToolCall::new("add", serde_json::json!({ "a": 2, "b": 3 })),
                ToolCall::new("tea_price", serde_json::json!({})),
            ])
            .reply("5, and tea costs 4."),
    );
    let graph = Agent::new(Arc::clone(&model) as Arc<dyn ChatModel>)
        .prompt("Be brief.")
        .tool(add)
        .tool(tea_price)
        .with_context(Prices { tea: 4 })
        .graph()
        .checkpointer(SqliteSaver::open(dir.join("agent.db")).await.unwrap())
        .compile()
        .unwrap();
    let thread = graph.thread("sums");
    let done = thread
        .invoke(ask("2+3? and tea?"))
        .await
        .unwrap()
        .into_finished()
        .unwrap();
    let texts: Vec<String> = done.messages.iter().map(ChatMessage::text).collect();
    assert_eq!(
        texts,
        ["2+3? and tea?", "", "5", "4", "5, and tea costs 4."]
    );
    // The prompt leads every call and is not stored.
    for seen in calls(&model) {
        assert_eq!(seen[0].text(), "Be brief.");
    }
    // The input, then model, tools, model (newest first).
    let history = thread.history().limit(10).await.unwrap();
    let steps: Vec<Vec<react_agent::Node>> = history.iter().map(|s| s.next.clone()).collect();
    use react_agent::Node::{Model, Tools};
    assert_eq!(steps, [vec![], vec![Model], vec![Tools], vec![Model]]);
    // Back to before the tools ran: the replay runs them again from there.
    let before_tools = history.iter().find(|s| s.next == [Tools]).unwrap();
    let again = Arc::new(ScriptedModel::new().reply("Still 5."));
    let replayed = Agent::new(again)
        .tool(add)
        .tool(tea_price)
        .with_context(Prices { tea: 4 })
        .graph()
        .checkpointer(SqliteSaver::open(dir.join("agent.db")).await.unwrap())
        .compile()
        .unwrap()
        .thread("sums")
        .replay(before_tools.checkpoint_id)
        .await
        .unwrap()
        .into_finished()
        .unwrap();
    assert_eq!(replayed.messages.last().unwrap().text(), "Still 5.");
    assert_eq!(replayed.messages.len(), 5);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_tool_needing_approval_pauses_and_a_rejection_reaches_the_model() {
    let model = Arc::new(
        ScriptedModel::new()
            .tool_call("add", serde_json::json!({ "a": 1, "b": 1 }))
            .reply("I was not allowed to add."),
    );
    let graph = in_memory(Agent::new(model).with_approval(add));
    let thread = graph.thread("approval");
    let paused = thread.invoke(ask("1+1?")).await.unwrap();
    let question: ApprovalRequest = paused.interrupts()[0].payload_as().unwrap();
    assert_eq!(question.action_requests[0].name, "add");
    let done = thread
        .resume_with(Resume::value(Decision::reject("no arithmetic today")))
        .await
        .unwrap()
        .into_finished()
        .unwrap();
    let tool = done.messages[2].as_tool().unwrap();
    assert_eq!(
        (tool.status, tool.text().as_str()),
        (ToolStatus::Error, "no arithmetic today")
    );
    assert_eq!(done.messages[3].text(), "I was not allowed to add.");
}

/// The answer the agent is asked for.
#[derive(Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
struct Answer {
    /// The sum.
    sum: i64,
}

#[tokio::test]
async fn the_structured_response_is_parsed_retried_once_and_stored() {
    let model = Arc::new(
        ScriptedModel::new()
            .tool_call("add", serde_json::json!({ "a": 2, "b": 2 }))
            .reply("It is 4.")
            .reply("four")
            .reply(r#"{"sum": 4}"#),
    );
    let graph = in_memory(
        Agent::new(Arc::clone(&model) as Arc<dyn ChatModel>)
            .tool(add)
            .response_format::<Answer>(),
    );
    let done = graph
        .thread("structured")
        .invoke(ask("2+2?"))
        .await
        .unwrap()
        .into_finished()
        .unwrap();
    assert_eq!(
        done.structured::<Answer>().unwrap().unwrap(),
        Answer { sum: 4 }
    );
    assert_eq!(done.messages.last().unwrap().text(), "It is 4.");
    // The first structured reply did not parse: the model was told so and asked again.
    let retry = calls(&model).pop().unwrap();
    assert!(
        retry.last().unwrap().text().contains("does not match"),
        "{retry:?}"
    );
}

#[tokio::test]
async fn a_structured_response_that_never_parses_is_a_parse_error() {
    let model = Arc::new(
        ScriptedModel::new()
            .reply("done")
            .reply("nope")
            .reply("still no"),
    );
    let graph = in_memory(Agent::new(model).response_format::<Answer>());
    let error = graph
        .thread("unparsed")
        .invoke(ask("sum?"))
        .await
        .unwrap_err();
    let GraphError::Node { source, .. } = &error else {
        panic!("expected the model node to fail: {error:?}");
    };
    assert!(
        matches!(
            source.downcast_ref::<ModelError>(),
            Some(ModelError::Parse(_))
        ),
        "{error}"
    );
}

#[tokio::test]
async fn a_trim_hook_shortens_what_the_model_reads_and_keeps_the_conversation() {
    let model = Arc::new(ScriptedModel::new().reply("one").reply("two"));
    let graph = in_memory(
        Agent::new(Arc::clone(&model) as Arc<dyn ChatModel>).pre_model_hook(Trim::last_messages(1)),
    );
    let thread = graph.thread("trim");
    let _ = thread.invoke(ask("first")).await.unwrap();
    let done = thread
        .invoke(ask("second"))
        .await
        .unwrap()
        .into_finished()
        .unwrap();
    assert_eq!(done.messages.len(), 4);
    let seen = calls(&model);
    assert_eq!(
        seen[1].iter().map(ChatMessage::text).collect::<Vec<_>>(),
        ["second"]
    );
}

#[tokio::test]
async fn a_summarize_hook_rewrites_the_stored_conversation() {
    let summarizer = Arc::new(ScriptedModel::new().reply("Ada counted to three."));
    let model = Arc::new(ScriptedModel::new().reply("ok").reply("ok").reply("four"));
    let graph = in_memory(
        Agent::new(model).pre_model_hook(Summarize::new(summarizer).over_tokens(30).keep_tokens(8)),
    );
    let thread = graph.thread("summary");
    // 10 + 4 + 10 tokens: under the budget, nothing is summarised yet.
    let second = thread
        .invoke(ask("one, a long first message"))
        .await
        .unwrap();
    assert_eq!(second.into_finished().unwrap().messages.len(), 2);
    let _ = thread
        .invoke(ask("two, a long second message"))
        .await
        .unwrap();
    let done = thread
        .invoke(ask("three?"))
        .await
        .unwrap()
        .into_finished()
        .unwrap();
    let texts: Vec<String> = done.messages.iter().map(ChatMessage::text).collect();
    assert!(texts[0].contains("Ada counted to three."), "{texts:?}");
    assert_eq!(&texts[1..], ["three?", "four"]);
}

#[tokio::test]
async fn a_post_model_hook_can_refuse_a_reply() {
    let model = Arc::new(ScriptedModel::new().reply("the password is hunter2"));
    let graph = Agent::new(model)
        .post_model_hook(|reply: AiMessage| {
            if reply.text().contains("password") {
                return Err("the reply leaks a password".into());
            }
            Ok(reply)
        })
        .graph()
        .checkpointer(MemorySaver::new())
        .compile()
        .unwrap();
    let error = graph
        .thread("guard")
        .invoke(ask("password?"))
        .await
        .unwrap_err();
    assert!(error.to_string().contains("leaks a password"), "{error}");
}

#[tokio::test]
async fn the_agent_streams_its_steps_like_any_graph() {
    let model = Arc::new(
        ScriptedModel::new()
            .tool_call("add", serde_json::json!({ "a": 1, "b": 2 }))
            .reply("3"),
    );
    let graph = in_memory(Agent::new(model).tool(add));
    let mut stream = graph
        .thread("stream")
        .stream(ask("1+2?"), StreamMode::UPDATES);
    let mut nodes = Vec::new();
    while let Some(event) = stream.next().await {
        let event = event.unwrap();
        if let EventData::Update(_) = event.data {
            nodes.push(event.node.unwrap());
        }
    }
    assert_eq!(nodes, ["model", "tools", "model"]);
}

#[derive(State, Clone, Debug, Default, Serialize, Deserialize)]
struct Desk {
    question: String,
    answer: String,
}

struct DeskDeps {
    agent: Arc<Agent>,
}

fn agent_of(deps: &Arc<DeskDeps>) -> Arc<Agent> {
    Arc::clone(&deps.agent)
}

fn to_agent(desk: &Desk) -> AgentStateUpdate {
    ask(&desk.question)
}

fn from_agent(agent: &AgentState) -> DeskUpdate {
    DeskUpdate::new().answer(
        agent
            .messages
            .last()
            .map(ChatMessage::text)
            .unwrap_or_default(),
    )
}

#[stategraph::graph(state = Desk, deps = DeskDeps)]
mod desk {
    use super::*;

    #[node]
    async fn receive(s: &Desk) -> NodeResult<Desk> {
        Ok(DeskUpdate::new().question(s.question.trim().to_owned()))
    }

    #[subgraph(input = to_agent, output = from_agent, deps = agent_of)]
    type assistant = stategraph::prebuilt::react_agent::Graph;

    edges! {
        START -> receive -> assistant -> END;
    }
}

#[tokio::test]
async fn the_agent_runs_as_a_subgraph() {
    let model = Arc::new(
        ScriptedModel::new()
            .tool_call("add", serde_json::json!({ "a": 20, "b": 22 }))
            .reply("42"),
    );
    let deps = DeskDeps {
        agent: Arc::new(Agent::new(model).tool(add)),
    };
    let graph = desk::graph(deps)
        .checkpointer(MemorySaver::new())
        .compile()
        .unwrap();
    let done = graph
        .thread("desk")
        .invoke(DeskUpdate::new().question("  20+22?  ".to_owned()))
        .await
        .unwrap()
        .into_finished()
        .unwrap();
    assert_eq!(done.answer, "42");
}
