//! Send (map-reduce): a `#[send]` function fans a step out to one task of a node per input it
//! returns, each task running on its own typed input instead of the state. The tasks run
//! together in the next step and their updates merge in the order the inputs were sent.
//!
//! The inputs a checkpoint schedules are stored with it, as the blob of a channel of their own
//! ([`SENDS`]), so a resume runs the same tasks with the same inputs (and a task whose writes
//! were saved is not run again).

use std::any::Any;
use std::future::Future;
use std::sync::Arc;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::node::{NodeContext, NodeError, NodeFn, NodeFuture};
use crate::state::State;

/// One input sent to a node, type-erased (the generated code sends and receives it typed).
pub type SentInput = Arc<dyn Any + Send + Sync>;

/// The channel under which a checkpoint stores the inputs it sends to the next step's tasks.
pub const SENDS: &str = "__sends__";

/// How the inputs of a node that receives sent inputs are stored and read back.
#[derive(Clone, Copy)]
pub struct InputCodec {
    encode: fn(&(dyn Any + Send + Sync)) -> Result<Vec<u8>, serde_json::Error>,
    decode: fn(serde_json::Value) -> Result<SentInput, serde_json::Error>,
}

impl std::fmt::Debug for InputCodec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InputCodec").finish_non_exhaustive()
    }
}

impl InputCodec {
    /// An input read back from its JSON.
    pub(crate) fn decode(&self, value: serde_json::Value) -> Result<SentInput, serde_json::Error> {
        (self.decode)(value)
    }

    /// The input as JSON.
    pub(crate) fn encode(
        &self,
        input: &(dyn Any + Send + Sync),
    ) -> Result<Vec<u8>, serde_json::Error> {
        (self.encode)(input)
    }

    /// The codec of inputs of type `I`, as JSON.
    pub fn of<I: Serialize + DeserializeOwned + Send + Sync + 'static>() -> Self {
        Self {
            encode: |input| {
                let input = input
                    .downcast_ref::<I>()
                    .expect("a node receives the input type its sends are checked against");
                serde_json::to_vec(input)
            },
            decode: |value| Ok(Arc::new(serde_json::from_value::<I>(value)?)),
        }
    }
}

/// An `async fn(&I) -> Result<S::Update, E>`: a node that runs on one sent input.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a node that receives `{I}` in a graph over `{S}`",
    label = "a node the `#[send]` function sends `{I}` to must be `async fn(&{I}) -> NodeResult<{S}>`",
    note = "a node that receives sent inputs takes one input by reference (the type its `#[send]` function returns a `Vec` of) and returns `NodeResult<{S}>`; it may take `&NodeContext` as a second argument"
)]
pub trait InputNode<'a, I, S: State>: Send + Sync + 'static {
    /// The node's error.
    type Error: Into<NodeError>;
    /// The node's future.
    type Future: Future<Output = Result<S::Update, Self::Error>> + Send + 'a;
    /// Calls the node.
    fn call(&self, input: &'a I) -> Self::Future;
}

impl<'a, I, S, F, Fut, E> InputNode<'a, I, S> for F
where
    I: 'a,
    S: State,
    F: Fn(&'a I) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<S::Update, E>> + Send + 'a,
    E: Into<NodeError>,
{
    type Error = E;
    type Future = Fut;
    fn call(&self, input: &'a I) -> Fut {
        self(input)
    }
}

/// An `async fn(&I, &NodeContext<D>) -> Result<S::Update, E>`: a node that runs on one sent
/// input, with its context.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a node that receives `{I}` in a graph over `{S}` with dependencies `{D}`",
    label = "a node the `#[send]` function sends `{I}` to must be `async fn(&{I}, &NodeContext<{D}>) -> NodeResult<{S}>`",
    note = "the input is the type its `#[send]` function returns a `Vec` of"
)]
pub trait InputContextNode<'a, I, S: State, D: 'a>: Send + Sync + 'static {
    /// The node's error.
    type Error: Into<NodeError>;
    /// The node's future.
    type Future: Future<Output = Result<S::Update, Self::Error>> + Send + 'a;
    /// Calls the node.
    fn call(&self, input: &'a I, ctx: &'a NodeContext<D>) -> Self::Future;
}

impl<'a, I, S, D, F, Fut, E> InputContextNode<'a, I, S, D> for F
where
    I: 'a,
    S: State,
    D: 'a,
    F: Fn(&'a I, &'a NodeContext<D>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<S::Update, E>> + Send + 'a,
    E: Into<NodeError>,
{
    type Error = E;
    type Future = Fut;
    fn call(&self, input: &'a I, ctx: &'a NodeContext<D>) -> Fut {
        self(input, ctx)
    }
}

/// The input a task of a receiving node was sent, typed.
fn input_of<I: Send + Sync + 'static, D>(ctx: &NodeContext<D>) -> Result<Arc<I>, NodeError> {
    ctx.input
        .clone()
        .and_then(|input| input.downcast::<I>().ok())
        .ok_or_else(|| {
            format!(
                "node `{}` runs on sent inputs, and this task was given none",
                ctx.node
            )
            .into()
        })
}

struct Receiver<F, I>(Arc<F>, std::marker::PhantomData<fn(I)>);

impl<S, D, I, F> NodeFn<S, D> for Receiver<F, I>
where
    S: State,
    D: Send + Sync + 'static,
    I: Send + Sync + 'static,
    F: for<'a> InputNode<'a, I, S>,
{
    fn call(&self, _state: Arc<S>, ctx: NodeContext<D>) -> NodeFuture<S> {
        let f = Arc::clone(&self.0);
        Box::pin(async move {
            let input = input_of::<I, D>(&ctx)?;
            f.call(&input).await.map_err(Into::into)
        })
    }
}

struct ReceiverWithContext<F, I>(Arc<F>, std::marker::PhantomData<fn(I)>);

impl<S, D, I, F> NodeFn<S, D> for ReceiverWithContext<F, I>
where
    S: State,
    D: Send + Sync + 'static,
    I: Send + Sync + 'static,
    F: for<'a> InputContextNode<'a, I, S, D>,
{
    fn call(&self, _state: Arc<S>, ctx: NodeContext<D>) -> NodeFuture<S> {
        let f = Arc::clone(&self.0);
        Box::pin(async move {
            let input = input_of::<I, D>(&ctx)?;
            f.call(&input, &ctx).await.map_err(Into::into)
        })
    }
}

/// Wraps `async fn(&I) -> Result<S::Update, E>`, a node that runs on sent inputs.
pub fn node_with_input<S, D, I, F>(f: F) -> Arc<dyn NodeFn<S, D>>
where
    S: State,
    D: Send + Sync + 'static,
    I: Send + Sync + 'static,
    F: for<'a> InputNode<'a, I, S>,
{
    Arc::new(Receiver(Arc::new(f), std::marker::PhantomData))
}

/// Wraps `async fn(&I, &NodeContext<D>) -> Result<S::Update, E>`, a node that runs on sent
/// inputs.
pub fn node_with_input_and_context<S, D, I, F>(f: F) -> Arc<dyn NodeFn<S, D>>
where
    S: State,
    D: Send + Sync + 'static,
    I: Send + Sync + 'static,
    F: for<'a> InputContextNode<'a, I, S, D>,
{
    Arc::new(ReceiverWithContext(Arc::new(f), std::marker::PhantomData))
}

/// The sends of a `#[send]` function's inputs, type-erased for the runtime.
pub fn sent<I: Send + Sync + 'static>(inputs: Vec<I>) -> Vec<SentInput> {
    inputs
        .into_iter()
        .map(|input| Arc::new(input) as SentInput)
        .collect()
}
