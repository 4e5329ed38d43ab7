//! A message's content: text, or a list of parts (text, images, files, and blocks kept as they
//! came).

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value, json};

/// A message's content: plain text, or parts.
#[derive(Debug, Clone, PartialEq)]
pub enum Content {
    /// Plain text (serialised as a string).
    Text(String),
    /// Text, images and files in order (serialised as a list of content blocks).
    Parts(Vec<ContentPart>),
}

impl Default for Content {
    fn default() -> Self {
        Self::Text(String::new())
    }
}

impl Content {
    /// The text: the string itself, or the text parts joined (images and files left out).
    pub fn text(&self) -> String {
        match self {
            Self::Text(text) => text.clone(),
            Self::Parts(parts) => parts
                .iter()
                .filter_map(|part| match part {
                    ContentPart::Text(text) => Some(text.as_str()),
                    _ => None,
                })
                .collect(),
        }
    }

    /// Whether there is no text and no part.
    pub fn is_empty(&self) -> bool {
        match self {
            Self::Text(text) => text.is_empty(),
            Self::Parts(parts) => parts.is_empty(),
        }
    }
}

impl From<&str> for Content {
    fn from(text: &str) -> Self {
        Self::Text(text.to_owned())
    }
}

impl From<String> for Content {
    fn from(text: String) -> Self {
        Self::Text(text)
    }
}

impl From<Vec<ContentPart>> for Content {
    fn from(parts: Vec<ContentPart>) -> Self {
        Self::Parts(parts)
    }
}

/// Where an image's or a file's bytes are.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum MediaSource {
    /// At a URL (`https:` or a `data:` URL).
    Url(String),
    /// Inline, base64-encoded.
    Base64(String),
    /// A file the provider already holds, by its id.
    FileId(String),
}

/// One block of a message's content.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum ContentPart {
    /// Text (`{"type": "text", "text": …}`).
    Text(String),
    /// An image (`{"type": "image", "url" | "base64" | "file_id": …, "mime_type": …}`; read from
    /// OpenAI's `{"type": "image_url", "image_url": {"url": …}}` too).
    Image {
        /// Where its bytes are.
        source: MediaSource,
        /// Its MIME type, when known (`image/png`).
        mime_type: Option<String>,
    },
    /// A file, such as a PDF (`{"type": "file", …}` with the same sources as an image).
    File {
        /// Where its bytes are.
        source: MediaSource,
        /// Its MIME type, when known.
        mime_type: Option<String>,
        /// Its name, when known.
        filename: Option<String>,
    },
    /// A block of another type (reasoning, citations, a provider's own), kept as it came.
    Other(Map<String, Value>),
}

impl ContentPart {
    /// A text part.
    pub fn text(text: impl Into<String>) -> Self {
        Self::Text(text.into())
    }

    /// An image at `url`.
    pub fn image_url(url: impl Into<String>) -> Self {
        Self::Image {
            source: MediaSource::Url(url.into()),
            mime_type: None,
        }
    }

    fn to_json(&self) -> Value {
        fn media(
            kind: &str,
            source: &MediaSource,
            mime_type: Option<&String>,
        ) -> Map<String, Value> {
            let mut block = Map::new();
            block.insert("type".into(), kind.into());
            let (key, value) = match source {
                MediaSource::Url(url) => ("url", url),
                MediaSource::Base64(data) => ("base64", data),
                MediaSource::FileId(id) => ("file_id", id),
            };
            block.insert(key.into(), value.as_str().into());
            if let Some(mime_type) = mime_type {
                block.insert("mime_type".into(), mime_type.as_str().into());
            }
            block
        }
        match self {
            Self::Text(text) => json!({ "type": "text", "text": text }),
            Self::Image { source, mime_type } => {
                Value::Object(media("image", source, mime_type.as_ref()))
            }
            Self::File {
                source,
                mime_type,
                filename,
            } => {
                let mut block = media("file", source, mime_type.as_ref());
                if let Some(filename) = filename {
                    block.insert("filename".into(), filename.as_str().into());
                }
                Value::Object(block)
            }
            Self::Other(block) => Value::Object(block.clone()),
        }
    }

    fn from_json(block: Value) -> Result<Self, String> {
        let mut block = match block {
            Value::String(text) => return Ok(Self::Text(text)),
            Value::Object(block) => block,
            _ => return Err("a content block must be a string or an object".into()),
        };
        let kind = block
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let take = |block: &mut Map<String, Value>, key: &str| match block.remove(key) {
            Some(Value::String(s)) => Some(s),
            _ => None,
        };
        match kind.as_str() {
            "text" => match take(&mut block, "text") {
                Some(text) => Ok(Self::Text(text)),
                None => Err("a `text` content block needs a string `text`".into()),
            },
            "image_url" => {
                let url = match block.remove("image_url") {
                    Some(Value::String(url)) => Some(url),
                    Some(Value::Object(mut inner)) => take(&mut inner, "url"),
                    _ => None,
                };
                let url = url.ok_or("an `image_url` content block needs a URL")?;
                Ok(Self::Image {
                    source: MediaSource::Url(url),
                    mime_type: None,
                })
            }
            "image" | "file" => {
                let source = media_source(&mut block).ok_or_else(|| {
                    format!("an `{kind}` content block needs `url`, `base64` or `file_id`")
                })?;
                let mime_type = take(&mut block, "mime_type");
                Ok(if kind == "image" {
                    Self::Image { source, mime_type }
                } else {
                    Self::File {
                        source,
                        mime_type,
                        filename: take(&mut block, "filename"),
                    }
                })
            }
            _ => Ok(Self::Other(block)),
        }
    }
}

/// The source of an `image` or `file` block, in LangChain's standard keys (`data` and `id`
/// are the names of older versions).
fn media_source(block: &mut Map<String, Value>) -> Option<MediaSource> {
    let mut take = |key: &str| match block.remove(key) {
        Some(Value::String(s)) => Some(s),
        _ => None,
    };
    if let Some(url) = take("url") {
        return Some(MediaSource::Url(url));
    }
    if let Some(data) = take("base64").or_else(|| take("data")) {
        return Some(MediaSource::Base64(data));
    }
    take("file_id")
        .or_else(|| take("id"))
        .map(MediaSource::FileId)
}

impl Serialize for Content {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Text(text) => serializer.serialize_str(text),
            Self::Parts(parts) => serializer.collect_seq(parts.iter().map(ContentPart::to_json)),
        }
    }
}

impl<'de> Deserialize<'de> for Content {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        match Value::deserialize(deserializer)? {
            Value::String(text) => Ok(Self::Text(text)),
            Value::Null => Ok(Self::default()),
            Value::Array(blocks) => blocks
                .into_iter()
                .map(ContentPart::from_json)
                .collect::<Result<Vec<_>, _>>()
                .map(Self::Parts)
                .map_err(D::Error::custom),
            _ => Err(D::Error::custom(
                "a message's content must be a string or a list of content blocks",
            )),
        }
    }
}

impl Serialize for ContentPart {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.to_json().serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for ContentPart {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Self::from_json(Value::deserialize(deserializer)?).map_err(D::Error::custom)
    }
}
