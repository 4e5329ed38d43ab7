//! Embeddings: the vectors a semantic index of a store keeps beside its items, made by a model
//! (LangGraph's store `index` with `embed`). The agent layer implements [`Embed`] for its
//! providers' embedding models; a test implements it over anything deterministic.

use async_trait::async_trait;

use super::StoreError;

/// Turns texts into vectors.
#[async_trait]
pub trait Embed: Send + Sync + 'static {
    /// One vector per text of `texts`, in order, each as long as the model's dimensions.
    async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, StoreError>;
}
