//! How checkpoints, blobs and writes are encoded in Redis values and fields.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use stategraph_checkpoint::{
    BlobKind, ChannelBlob, Checkpoint, CheckpointError, CheckpointId, CheckpointMetadata,
    PendingWrite, TaskId, ThreadId, from_micros, to_micros,
};

/// The length of a checkpoint (or task) id as text.
pub(crate) const ID_LEN: usize = 36;

/// A checkpoint as stored: everything but its id, thread and namespace, which the key and
/// field already say (so copying a thread copies values verbatim).
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Record {
    parent_id: Option<CheckpointId>,
    created_at: i64,
    channel_versions: BTreeMap<String, CheckpointId>,
    next: Vec<String>,
    #[serde(default)]
    barriers: BTreeMap<String, Vec<String>>,
    metadata: CheckpointMetadata,
}

impl Record {
    pub(crate) fn encode(checkpoint: &Checkpoint) -> Vec<u8> {
        let record = RecordRef {
            parent_id: checkpoint.parent_id,
            created_at: to_micros(checkpoint.created_at),
            channel_versions: &checkpoint.channel_versions,
            next: &checkpoint.next,
            barriers: &checkpoint.barriers,
            metadata: &checkpoint.metadata,
        };
        serde_json::to_vec(&record).expect("a checkpoint record is plain JSON")
    }

    pub(crate) fn decode(
        bytes: &[u8],
        thread_id: &ThreadId,
        ns: &str,
        id: CheckpointId,
    ) -> Result<Checkpoint, stategraph_checkpoint::CheckpointError> {
        let record: Record = serde_json::from_slice(bytes).map_err(|e| {
            CheckpointError::corrupt(thread_id, id, format!("the checkpoint record: {e}"))
        })?;
        Ok(Checkpoint {
            id,
            thread_id: thread_id.clone(),
            ns: ns.to_owned(),
            parent_id: record.parent_id,
            created_at: from_micros(record.created_at),
            channel_versions: record.channel_versions,
            next: record.next,
            barriers: record.barriers,
            metadata: record.metadata,
        })
    }
}

#[derive(Serialize)]
struct RecordRef<'a> {
    parent_id: Option<CheckpointId>,
    created_at: i64,
    channel_versions: &'a BTreeMap<String, CheckpointId>,
    next: &'a [String],
    barriers: &'a BTreeMap<String, Vec<String>>,
    metadata: &'a CheckpointMetadata,
}

/// A checkpoint id read from a key member.
pub(crate) fn parse_id(text: &[u8]) -> Option<CheckpointId> {
    std::str::from_utf8(text).ok()?.parse().ok()
}

/// The field of a blob: `<version><channel>`.
pub(crate) fn blob_field(blob: &ChannelBlob) -> Vec<u8> {
    let mut field = Vec::with_capacity(ID_LEN + blob.channel.len());
    field.extend_from_slice(blob.version.to_string().as_bytes());
    field.extend_from_slice(blob.channel.as_bytes());
    field
}

/// The value of a blob: `S<data>` or `D<base><data>`.
pub(crate) fn blob_value(blob: &ChannelBlob) -> Vec<u8> {
    let mut value = Vec::with_capacity(1 + ID_LEN + blob.data.len());
    match blob.kind {
        BlobKind::Snapshot => value.push(b'S'),
        BlobKind::Delta { base } => {
            value.push(b'D');
            value.extend_from_slice(base.to_string().as_bytes());
        }
    }
    value.extend_from_slice(&blob.data);
    value
}

/// A blob read back: its kind and data (the caller knows the channel and version).
pub(crate) fn parse_blob(value: &[u8]) -> Option<(BlobKind, Vec<u8>)> {
    match value.split_first()? {
        (b'S', data) => Some((BlobKind::Snapshot, data.to_vec())),
        (b'D', rest) if rest.len() >= ID_LEN => {
            let base = parse_id(&rest[..ID_LEN])?;
            Some((BlobKind::Delta { base }, rest[ID_LEN..].to_vec()))
        }
        _ => None,
    }
}

/// The field of a write: `<checkpoint><task><idx>`, the index as 8 hex digits with the sign
/// bit flipped, so the fields sort by checkpoint, task and index.
pub(crate) fn write_field(checkpoint: CheckpointId, write: &PendingWrite) -> String {
    let idx = (write.idx as u32) ^ 0x8000_0000;
    format!("{checkpoint}{}{idx:08x}", write.task_id)
}

/// The value of a write: `<node length>:<node><channel length>:<channel><value>`.
pub(crate) fn write_value(write: &PendingWrite) -> Vec<u8> {
    let mut value =
        Vec::with_capacity(write.node.len() + write.channel.len() + write.value.len() + 12);
    value.extend_from_slice(format!("{}:", write.node.len()).as_bytes());
    value.extend_from_slice(write.node.as_bytes());
    value.extend_from_slice(format!("{}:", write.channel.len()).as_bytes());
    value.extend_from_slice(write.channel.as_bytes());
    value.extend_from_slice(&write.value);
    value
}

/// A write read back from its field and value.
pub(crate) fn parse_write(field: &[u8], value: &[u8]) -> Option<PendingWrite> {
    if field.len() != 2 * ID_LEN + 8 {
        return None;
    }
    let task: uuid::Uuid = std::str::from_utf8(&field[ID_LEN..2 * ID_LEN])
        .ok()?
        .parse()
        .ok()?;
    let idx = u32::from_str_radix(std::str::from_utf8(&field[2 * ID_LEN..]).ok()?, 16).ok()?;
    let (node, rest) = take_prefixed(value)?;
    let (channel, rest) = take_prefixed(rest)?;
    Some(PendingWrite {
        task_id: TaskId::from_uuid(task),
        node: node.to_owned(),
        idx: (idx ^ 0x8000_0000) as i32,
        channel: channel.to_owned(),
        value: rest.to_vec(),
    })
}

fn take_prefixed(bytes: &[u8]) -> Option<(&str, &[u8])> {
    let colon = bytes.iter().position(|&b| b == b':')?;
    let len: usize = std::str::from_utf8(&bytes[..colon]).ok()?.parse().ok()?;
    let rest = &bytes[colon + 1..];
    if rest.len() < len {
        return None;
    }
    Some((std::str::from_utf8(&rest[..len]).ok()?, &rest[len..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_fields_sort_by_task_then_index() {
        let cp = CheckpointId::new();
        let write = |idx| PendingWrite {
            task_id: TaskId::derive(cp, "", 0, "n"),
            node: "n".into(),
            idx,
            channel: "c".into(),
            value: b"1".to_vec(),
        };
        let fields: Vec<String> = [-1, 0, 1, 7, i32::MAX, i32::MIN]
            .into_iter()
            .map(|i| write_field(cp, &write(i)))
            .collect();
        let mut sorted = fields.clone();
        sorted.sort();
        assert_eq!(
            sorted,
            vec![
                fields[5].clone(),
                fields[0].clone(),
                fields[1].clone(),
                fields[2].clone(),
                fields[3].clone(),
                fields[4].clone()
            ]
        );
        let w = write(-1);
        let back = parse_write(fields[0].as_bytes(), &write_value(&w)).unwrap();
        assert_eq!(back, w);
    }

    #[test]
    fn blobs_round_trip() {
        let base = CheckpointId::new();
        let blob = ChannelBlob {
            channel: "messages".into(),
            version: CheckpointId::new(),
            kind: BlobKind::Delta { base },
            data: b"[1]".to_vec(),
        };
        assert_eq!(
            parse_blob(&blob_value(&blob)),
            Some((BlobKind::Delta { base }, b"[1]".to_vec()))
        );
        assert_eq!(parse_blob(b"Xjunk"), None);
    }
}
