//! A model call as a node makes it: when the run is streamed in messages mode, the reply is
//! streamed and each piece sent to the stream as it arrives (one id across the pieces and
//! the whole message, so a front end joins them); its token usage is added to the run's
//! total, which the run's checkpoints record.

use futures::StreamExt;
use stategraph_runtime::TokenUsage;
use stategraph_runtime::running;

use super::{AiMessageChunk, ChatModel, ModelError, ModelRequest};
use crate::messages::{AiMessage, ChatMessage, new_id};

/// The reply to `messages`, streamed to the run's stream in messages mode.
pub(crate) async fn call<M: ChatModel + ?Sized>(
    model: &M,
    messages: &[ChatMessage],
    request: &ModelRequest,
) -> Result<AiMessage, ModelError> {
    let reply = if running::streams_messages() {
        let mut stream = model.stream_with(messages, request).await?;
        let mut whole = AiMessageChunk::default();
        let mut id = None;
        while let Some(piece) = stream.next().await {
            let mut piece = piece?;
            // Every piece carries the reply's id: the provider's, else one made here.
            let id = id.get_or_insert_with(|| piece.id.clone().unwrap_or_else(new_id));
            piece.id = Some(id.clone());
            running::emit_message(piece.clone()).await;
            whole += piece;
        }
        whole.into_message()
    } else {
        model.invoke_with(messages, request).await?
    };
    if let Some(usage) = &reply.usage_metadata {
        running::record_usage(TokenUsage::new(
            usage.input_tokens,
            usage.output_tokens,
            usage.total_tokens,
        ));
    }
    Ok(reply)
}
