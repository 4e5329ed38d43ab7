//! Structured output: a reply read into a serde type, asked for with the type's JSON Schema.

use std::marker::PhantomData;

use serde::de::DeserializeOwned;

use super::{ChatModel, ModelError, ModelRequest, ResponseFormat, cut};
use crate::messages::{AiMessage, ChatMessage};

/// A model whose replies are read into a `T`; made by
/// [`ChatModelExt::with_structured_output`](super::ChatModelExt::with_structured_output).
///
/// Each call asks for JSON following `T`'s schema. A reply that does not parse is
/// [`ModelError::Parse`] — or, with [`retries`](Self::retries), is shown to the model with the
/// parse error and asked for again.
#[derive(Debug, Clone)]
pub struct Structured<M, T> {
    model: M,
    format: ResponseFormat,
    retries: u32,
    target: PhantomData<fn() -> T>,
}

impl<M: ChatModel, T: DeserializeOwned> Structured<M, T> {
    pub(super) fn new(model: M, format: ResponseFormat) -> Self {
        Self {
            model,
            format,
            retries: 0,
            target: PhantomData,
        }
    }

    /// Asks again up to `retries` times when a reply does not parse (none unless set).
    pub fn retries(mut self, retries: u32) -> Self {
        self.retries = retries;
        self
    }

    /// The schema the model is asked to follow.
    pub fn format(&self) -> &ResponseFormat {
        &self.format
    }

    /// The reply to `messages`, read into a `T`.
    pub async fn invoke(&self, messages: &[ChatMessage]) -> Result<T, ModelError> {
        let request = ModelRequest {
            response_format: Some(self.format.clone()),
            ..ModelRequest::default()
        };
        let mut conversation = messages.to_vec();
        let mut attempt = 0;
        loop {
            let reply = super::in_node::call(&self.model, &conversation, &request).await?;
            match parse::<T>(&reply) {
                Ok(value) => return Ok(value),
                Err(error) if attempt < self.retries => {
                    attempt += 1;
                    conversation.push(reply.into());
                    conversation.push(ChatMessage::human(format!(
                        "That reply does not match the required JSON schema ({error}). Reply \
                         again with only a JSON value that follows the schema."
                    )));
                }
                Err(error) => return Err(ModelError::Parse(error)),
            }
        }
    }
}

/// Reads the reply's text as a `T`, allowing a Markdown code fence around the JSON.
fn parse<T: DeserializeOwned>(reply: &AiMessage) -> Result<T, String> {
    let text = reply.text();
    let mut json = text.trim();
    if let Some(fenced) = json.strip_prefix("```") {
        let fenced = fenced.strip_prefix("json").unwrap_or(fenced);
        json = fenced.strip_suffix("```").unwrap_or(fenced).trim();
    }
    serde_json::from_str(json).map_err(|error| cut(&error.to_string()))
}

#[cfg(test)]
mod tests {
    use schemars::JsonSchema;
    use serde::Deserialize;

    use super::*;
    use crate::model::{ChatModelExt, ScriptedModel};

    #[derive(Debug, PartialEq, Deserialize, JsonSchema)]
    struct Verdict {
        approved: bool,
        reason: String,
    }

    #[tokio::test]
    async fn a_reply_is_read_into_the_type_and_the_schema_is_asked_for() {
        let model = std::sync::Arc::new(
            ScriptedModel::new().reply("```json\n{\"approved\": true, \"reason\": \"ok\"}\n```"),
        );
        let verdict = model
            .clone()
            .with_structured_output::<Verdict>()
            .invoke(&[ChatMessage::human("judge")])
            .await
            .unwrap();
        assert_eq!(
            verdict,
            Verdict {
                approved: true,
                reason: "ok".into()
            }
        );
        let (_, request) = &model.calls()[0];
        let format = request.response_format.as_ref().unwrap();
        assert_eq!(format.name, "Verdict");
        assert_eq!(format.schema["properties"]["approved"]["type"], "boolean");
    }

    #[tokio::test]
    async fn a_reply_that_does_not_parse_is_an_error_or_asked_again() {
        let bad = "{\"approved\": \"perhaps\"}";
        let good = "{\"approved\": false, \"reason\": \"no\"}";
        let model = ScriptedModel::new().reply(bad).reply(good);
        let error = model
            .with_structured_output::<Verdict>()
            .invoke(&[ChatMessage::human("judge")])
            .await
            .unwrap_err();
        assert!(matches!(error, ModelError::Parse(_)), "{error}");

        let model = std::sync::Arc::new(ScriptedModel::new().reply(bad).reply(good));
        let verdict = model
            .clone()
            .with_structured_output::<Verdict>()
            .retries(1)
            .invoke(&[ChatMessage::human("judge")])
            .await
            .unwrap();
        assert!(!verdict.approved);
        // The second call saw the bad reply and why it was refused.
        let (second, _) = &model.calls()[1];
        assert_eq!(second.len(), 3);
        assert_eq!(second[1].text(), bad);
        assert!(second[2].text().contains("does not match"));
    }
}
