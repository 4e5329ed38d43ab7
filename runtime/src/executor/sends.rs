//! A checkpoint's sends (`SENDS`), written and read back with the receiving nodes' codecs: the
//! executor's side of fan-out, which knows the graph's nodes.

use crate::checkpoint::{CheckpointError, CheckpointTuple, limits};
use crate::error::GraphError;
use crate::graph::GraphSpec;
use crate::send::{SENDS, SentInput};
use crate::state::State;

/// The sends of a checkpoint as one blob: `[["node", input], …]`, in the order they were sent.
pub(crate) fn encode_sends<S: State, D>(
    spec: &GraphSpec<S, D>,
    sends: &[(usize, SentInput)],
) -> Result<Vec<u8>, GraphError> {
    let mut data = Vec::from(&b"["[..]);
    for (i, (node, input)) in sends.iter().enumerate() {
        let node = &spec.nodes[*node];
        let codec = node.input.expect("sends go to nodes that receive inputs");
        let encoded = codec
            .encode(&**input)
            .map_err(|source| GraphError::Encode {
                node: node.name,
                field: SENDS,
                source,
            })?;
        if i > 0 {
            data.push(b',');
        }
        data.push(b'[');
        data.extend_from_slice(&serde_json::to_vec(node.name).expect("a name encodes"));
        data.push(b',');
        data.extend_from_slice(&encoded);
        data.push(b']');
    }
    data.push(b']');
    limits::check_value(SENDS, &data).map_err(|e| GraphError::Checkpoint(e.into()))?;
    Ok(data)
}

/// The sends `tuple`'s checkpoint scheduled, read back with the nodes' codecs. A node the graph
/// does not have, or an input that no longer decodes, is an error naming the checkpoint.
pub(crate) fn decode_sends<S: State, D>(
    spec: &GraphSpec<S, D>,
    tuple: &CheckpointTuple,
) -> Result<Vec<(usize, SentInput)>, GraphError> {
    let checkpoint = &tuple.checkpoint;
    if !checkpoint.channel_versions.contains_key(SENDS) {
        return Ok(Vec::new());
    }
    let corrupt = |detail: &str| -> GraphError {
        CheckpointError::corrupt(&checkpoint.thread_id, checkpoint.id, detail.to_owned()).into()
    };
    let Some(blob) = tuple.channels.get(SENDS).and_then(|b| b.last()) else {
        return Err(corrupt("its sent inputs are missing"));
    };
    let entries: Vec<(String, serde_json::Value)> = serde_json::from_slice(&blob.data)
        .map_err(|_| corrupt("its sent inputs are unreadable"))?;
    entries
        .into_iter()
        .map(|(name, input)| {
            let node = spec
                .index_of(&name)
                .filter(|&n| spec.nodes[n].input.is_some())
                .ok_or_else(|| GraphError::UnknownNode {
                    thread_id: checkpoint.thread_id.clone(),
                    checkpoint: checkpoint.id,
                    node: name.chars().take(64).collect(),
                    graph: spec.name,
                })?;
            let codec = spec.nodes[node].input.expect("checked above");
            let input = codec
                .decode(input)
                .map_err(|source| CheckpointError::Decode {
                    thread_id: checkpoint.thread_id.clone(),
                    checkpoint: checkpoint.id,
                    channel: SENDS.to_owned(),
                    source,
                })?;
            Ok((node, input))
        })
        .collect()
}
