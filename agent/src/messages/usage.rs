//! Tokens a model call consumed.

use std::collections::BTreeMap;
use std::ops::Add;

use serde::{Deserialize, Serialize};

/// The tokens of one model call (or the sum of several), as LangChain's `usage_metadata`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct UsageMetadata {
    /// Tokens of the prompt.
    pub input_tokens: u64,
    /// Tokens of the reply.
    pub output_tokens: u64,
    /// Their sum.
    pub total_tokens: u64,
    /// A breakdown of the input (`cache_read`, `cache_creation`, `audio`), when the provider
    /// gives one.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub input_token_details: BTreeMap<String, u64>,
    /// A breakdown of the output (`reasoning`, `audio`), when the provider gives one.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub output_token_details: BTreeMap<String, u64>,
}

impl UsageMetadata {
    /// `input` and `output` tokens, and their sum.
    pub fn new(input: u64, output: u64) -> Self {
        Self {
            input_tokens: input,
            output_tokens: output,
            total_tokens: input + output,
            ..Self::default()
        }
    }
}

impl Add for UsageMetadata {
    type Output = Self;

    /// The usage of two calls together, details summed key by key.
    fn add(mut self, other: Self) -> Self {
        self.input_tokens += other.input_tokens;
        self.output_tokens += other.output_tokens;
        self.total_tokens += other.total_tokens;
        for (key, n) in other.input_token_details {
            *self.input_token_details.entry(key).or_default() += n;
        }
        for (key, n) in other.output_token_details {
            *self.output_token_details.entry(key).or_default() += n;
        }
        self
    }
}
