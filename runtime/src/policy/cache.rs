//! Caching a node's result: [`CachePolicy`], and the wrapper that looks a result up by a hash
//! of the node's input before running it, and stores it after.

use std::sync::Arc;
use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::node::{NodeContext, NodeFn, NodeFuture};
use crate::send::InputCodec;
use crate::state::{State, StateUpdate, Stored};

/// How a node's results are cached: a node whose output depends only on its input (the state
/// it reads, or the input it is sent) reuses the result stored for the same input, for `ttl`.
///
/// Declared on a node, `#[node(cache = CachePolicy::ttl(Duration::from_secs(3600)))]`. The
/// cache lives on the graph's checkpointer (every built-in backend keeps one; a graph without a
/// checkpointer runs the node every time), shared by every thread of the graph. The key is a
/// SHA-256 of the input as JSON, with the graph's and the node's names and the policy's
/// version: bump the version when the node's code changes what it returns. Errors are not
/// cached; a hit does not run the node, so it asks no question and retries nothing.
///
/// ```
/// use std::time::Duration;
/// use stategraph_runtime::CachePolicy;
///
/// let policy = CachePolicy::ttl(Duration::from_secs(600)).version(2);
/// assert_eq!(policy.expires_after(), Some(Duration::from_secs(600)));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CachePolicy {
    ttl: Option<Duration>,
    version: u32,
}

impl CachePolicy {
    /// Results are reused for `ttl` after they were stored.
    pub fn ttl(ttl: Duration) -> Self {
        Self {
            ttl: Some(ttl),
            version: 0,
        }
    }

    /// Results are reused until the cache entry is replaced.
    pub fn forever() -> Self {
        Self {
            ttl: None,
            version: 0,
        }
    }

    /// A version in the key: results stored under another version are not reused.
    pub fn version(mut self, version: u32) -> Self {
        self.version = version;
        self
    }

    /// How long a result is reused (`None`: until replaced).
    pub fn expires_after(&self) -> Option<Duration> {
        self.ttl
    }
}

/// What every cache key of node `node` of graph `graph` under `policy` starts with.
pub(crate) fn scope(graph: &str, node: &str, policy: CachePolicy) -> String {
    format!("{graph}/{node}/v{}/", policy.version)
}

/// A node whose results are cached.
pub(crate) struct Cached<S: State, D> {
    pub(crate) inner: Arc<dyn NodeFn<S, D>>,
    pub(crate) policy: CachePolicy,
    /// `graph/node/vN/`: what every key of this node starts with.
    pub(crate) scope: String,
    /// The codec of the node's sent input, for a node that runs on sent inputs.
    pub(crate) input: Option<InputCodec>,
}

impl<S: State, D: Send + Sync + 'static> NodeFn<S, D> for Cached<S, D> {
    fn call(&self, state: Arc<S>, ctx: NodeContext<D>) -> NodeFuture<S> {
        let inner = Arc::clone(&self.inner);
        let policy = self.policy;
        let key = ctx.cache.as_ref().and_then(|_| self.key(&state, &ctx));
        Box::pin(async move {
            let (Some(saver), Some(key)) = (ctx.cache.clone(), key) else {
                return inner.call(state, ctx).await;
            };
            match saver.cache_get(&key).await {
                Ok(Some(stored)) => match decode::<S>(&stored) {
                    Some(update) => return Ok(update),
                    None => tracing::warn!(
                        node = ctx.node,
                        "a cached result no longer decodes; running the node"
                    ),
                },
                Ok(None) => {}
                Err(error) => {
                    tracing::warn!(node = ctx.node, %error, "the node cache could not be read; running the node")
                }
            }
            let update = inner.call(state, ctx.clone()).await?;
            match encode::<S>(&update) {
                Some(value) => {
                    if let Err(error) = saver.cache_put(&key, value, policy.ttl).await {
                        tracing::warn!(node = ctx.node, %error, "the node's result could not be cached");
                    }
                }
                None => tracing::warn!(
                    node = ctx.node,
                    "the node's result cannot be encoded; not cached"
                ),
            }
            Ok(update)
        })
    }
}

impl<S: State, D> Cached<S, D> {
    /// The key of this call: the scope and a SHA-256 of the input.
    fn key(&self, state: &S, ctx: &NodeContext<D>) -> Option<String> {
        let mut hash = Sha256::new();
        match (&self.input, &ctx.input) {
            (Some(codec), Some(input)) => hash.update(codec.encode(&**input).ok()?),
            _ => {
                for (index, channel) in S::CHANNELS.iter().enumerate() {
                    let bytes = state.encode_channel(index).ok()?;
                    hash.update((channel.name.len() as u64).to_le_bytes());
                    hash.update(channel.name.as_bytes());
                    hash.update((bytes.len() as u64).to_le_bytes());
                    hash.update(&bytes);
                }
            }
        }
        let digest = hash.finalize();
        let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        Some(format!("{}{hex}", self.scope))
    }
}

/// A result as the cache stores it: `[["channel", write], …]`.
fn encode<S: State>(update: &S::Update) -> Option<Vec<u8>> {
    let writes: Vec<(&str, serde_json::Value)> = update
        .channels()
        .iter()
        .map(|channel| {
            let bytes = update.encode_write(channel).ok()?;
            let value = serde_json::from_slice(&bytes).ok()?;
            Some((S::CHANNELS[channel].name, value))
        })
        .collect::<Option<_>>()?;
    serde_json::to_vec(&writes).ok()
}

/// A stored result back as an update; `None` when it no longer fits the state.
fn decode<S: State>(stored: &[u8]) -> Option<S::Update> {
    let writes: Vec<(String, serde_json::Value)> = serde_json::from_slice(stored).ok()?;
    let mut update = S::Update::default();
    for (name, value) in writes {
        let channel = match Stored::of::<S>(&name) {
            Stored::Current(channel) | Stored::Renamed(channel) => channel,
            Stored::Removed => continue,
            Stored::Unknown => return None,
        };
        update
            .decode_write(channel, &serde_json::to_vec(&value).ok()?)
            .ok()?;
    }
    Some(update)
}
