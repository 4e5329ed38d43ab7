//! The research agent's state, its dependencies and its graph: search → synthesize → review,
//! then a route that passes, revises the synthesis, or searches again, with the retry count in
//! state as the hard exit after 3 retries.
//!
//! The search API, the document store and the LLM are dependencies of the graph (`Services`),
//! given when it is built: the example runs deterministic stand-ins, a deployment passes real
//! clients, and a test passes doubles — no globals.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use stategraph::{NodeContext, NodeResult, State};

/// What the review decided.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Verdict {
    /// Good enough to ship.
    Pass,
    /// The synthesis needs another draft from the same sources.
    Revise,
    /// Too few sources: search again.
    #[default]
    InsufficientSources,
}

/// Where the job is.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Phase {
    /// Not started.
    #[default]
    New,
    /// Searching.
    Search,
    /// Writing the synthesis.
    Synthesize,
    /// Reviewing it.
    Review,
    /// Preparing another draft.
    Draft,
}

/// One entry of the agent's transcript.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ChatMessage {
    /// `system` or `assistant`.
    pub role: String,
    /// The text.
    pub content: String,
}

impl ChatMessage {
    fn new(role: &str, content: impl Into<String>) -> Self {
        Self {
            role: role.to_owned(),
            content: content.into(),
        }
    }
}

/// The research job's state: routing fields stay primitive, documents stay outside (only
/// their ids are kept), the transcript only grows.
#[derive(State, Clone, Debug, Default, Serialize, Deserialize)]
pub struct ResearchState {
    /// The job this thread serves.
    pub task_id: String,
    /// The research question.
    pub query: String,
    /// Where the job is.
    pub phase: Phase,
    /// How many times the graph went back (to search or to revise).
    pub retry_count: u32,
    /// The transcript; every node appends to it.
    #[state(reducer = append)]
    pub messages: Vec<ChatMessage>,
    /// Ids of the documents found, kept in an external store.
    pub search_result_ids: Vec<String>,
    /// The current synthesis.
    pub synthesis: Option<String>,
    /// The last review's verdict.
    pub review_verdict: Option<Verdict>,
}

/// A failed call to one of the services.
#[derive(Debug)]
pub struct ServiceError(pub String);

impl std::fmt::Display for ServiceError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ServiceError {}

/// A search API.
#[async_trait]
pub trait Search: Send + Sync {
    /// The ids of the documents found for `query` on attempt `attempt` (0 first).
    async fn search(&self, query: &str, attempt: u32) -> Result<Vec<String>, ServiceError>;
}

/// The document store the ids point into.
#[async_trait]
pub trait Documents: Send + Sync {
    /// The documents with these ids.
    async fn fetch(&self, ids: &[String]) -> Result<Vec<String>, ServiceError>;
}

/// The language model.
#[async_trait]
pub trait Llm: Send + Sync {
    /// Draft number `draft` (0 first) of a synthesis of `docs` answering `query`.
    async fn synthesize(
        &self,
        query: &str,
        docs: &[String],
        draft: u32,
    ) -> Result<String, ServiceError>;
    /// A verdict on `synthesis`, written from `sources` documents.
    async fn review(&self, synthesis: &str, sources: usize) -> Result<Verdict, ServiceError>;
}

/// The graph's dependencies: never persisted, given to `research::graph(services)`.
pub struct Services {
    /// The search API.
    pub search: Box<dyn Search>,
    /// The document store.
    pub documents: Box<dyn Documents>,
    /// The language model.
    pub llm: Box<dyn Llm>,
}

/// The seed's graph.
#[stategraph::graph(state = ResearchState, deps = Services)]
pub mod research {
    use super::*;

    #[node]
    async fn search(s: &ResearchState, ctx: &NodeContext<Services>) -> NodeResult<ResearchState> {
        // Coming back from a review is a retry, and counts toward the hard exit.
        let retries = if s.phase == Phase::Review {
            s.retry_count + 1
        } else {
            s.retry_count
        };
        let ids = ctx.deps().search.search(&s.query, retries).await?;
        Ok(ResearchStateUpdate::new()
            .push_messages(ChatMessage::new(
                "system",
                format!("search returned {} results", ids.len()),
            ))
            .search_result_ids(ids)
            .retry_count(retries)
            .phase(Phase::Search))
    }

    #[node]
    async fn synthesize(
        s: &ResearchState,
        ctx: &NodeContext<Services>,
    ) -> NodeResult<ResearchState> {
        let services = ctx.deps();
        let docs = services.documents.fetch(&s.search_result_ids).await?;
        let synthesis = services
            .llm
            .synthesize(&s.query, &docs, s.retry_count)
            .await?;
        Ok(ResearchStateUpdate::new()
            .push_messages(ChatMessage::new("assistant", synthesis.clone()))
            .synthesis(Some(synthesis))
            .phase(Phase::Synthesize))
    }

    #[node]
    async fn review(s: &ResearchState, ctx: &NodeContext<Services>) -> NodeResult<ResearchState> {
        let synthesis = s.synthesis.as_deref().unwrap_or("");
        let verdict = ctx
            .deps()
            .llm
            .review(synthesis, s.search_result_ids.len())
            .await?;
        Ok(ResearchStateUpdate::new()
            .review_verdict(Some(verdict))
            .phase(Phase::Review)
            .push_messages(ChatMessage::new(
                "system",
                format!("review verdict: {verdict:?}"),
            )))
    }

    #[node]
    async fn handle_revision(s: &ResearchState) -> NodeResult<ResearchState> {
        Ok(ResearchStateUpdate::new()
            .retry_count(s.retry_count + 1)
            .review_verdict(None)
            .phase(Phase::Draft))
    }

    /// Where to go after a review.
    pub enum AfterReview {
        /// Done: go to END.
        Pass,
        /// Draft again from the same sources.
        Revise,
        /// Search again for more sources.
        RetrySearch,
    }

    #[route]
    fn after_review(s: &ResearchState) -> AfterReview {
        match s.review_verdict {
            Some(Verdict::Pass) => AfterReview::Pass,
            _ if s.retry_count >= 3 => AfterReview::Pass, // the hard exit: never loop forever
            Some(Verdict::Revise) => AfterReview::Revise,
            _ => AfterReview::RetrySearch,
        }
    }

    edges! {
        START -> search -> synthesize -> review;
        review -> after_review { Pass => END, Revise => handle_revision, RetrySearch => search };
        handle_revision -> synthesize;
    }
}

/// Deterministic stand-ins for the three services: a retry finds more documents, the review
/// wants 3 sources and then a third draft.
pub struct StandIn;

#[async_trait]
impl Search for StandIn {
    async fn search(&self, query: &str, attempt: u32) -> Result<Vec<String>, ServiceError> {
        let found = 2 + 2 * attempt as usize;
        Ok((1..=found)
            .map(|i| format!("doc-{:03}-{}", i, query.len()))
            .collect())
    }
}

#[async_trait]
impl Documents for StandIn {
    async fn fetch(&self, ids: &[String]) -> Result<Vec<String>, ServiceError> {
        Ok(ids.iter().map(|id| format!("content of {id}")).collect())
    }
}

#[async_trait]
impl Llm for StandIn {
    async fn synthesize(
        &self,
        query: &str,
        docs: &[String],
        draft: u32,
    ) -> Result<String, ServiceError> {
        Ok(format!(
            "draft {} on {query:?} from {} sources",
            draft + 1,
            docs.len()
        ))
    }

    async fn review(&self, synthesis: &str, sources: usize) -> Result<Verdict, ServiceError> {
        Ok(if sources < 3 {
            Verdict::InsufficientSources
        } else if !synthesis.starts_with("draft 3") {
            Verdict::Revise
        } else {
            Verdict::Pass
        })
    }
}

impl Services {
    /// Every service played by [`StandIn`].
    pub fn stand_ins() -> Self {
        Self {
            search: Box::new(StandIn),
            documents: Box::new(StandIn),
            llm: Box::new(StandIn),
        }
    }
}
