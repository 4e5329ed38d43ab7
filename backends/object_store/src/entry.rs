//! One entry of a thread's log, as the immutable object that stores it.
//!
//! An object is `SGLOG1\n`, the length of a JSON header (4 bytes, little endian), the header,
//! then the raw bytes of every blob and write value, in the header's order. Values stay the
//! exact bytes the runtime handed over, and nothing but the header is parsed.

use serde::{Deserialize, Serialize};
use stategraph_checkpoint::{
    BlobKind, ChannelBlob, Checkpoint, CheckpointId, Epoch, PendingWrite, TaskId, ThreadRecords,
};

const MAGIC: &[u8] = b"SGLOG1\n";

/// What an entry does to the thread.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Kind {
    /// A run took the thread over: `epoch` is its epoch (a conditional claim also carries the
    /// writes it was made with).
    Claim,
    /// One checkpoint with the blobs it added.
    Put,
    /// Task writes against checkpoints.
    Writes,
    /// A copy of another thread into this empty one (the epoch stays).
    Import,
    /// The last entry of a generation: the thread goes on from exactly what it holds, in the
    /// next generation (a deletion or a prune).
    Seal,
    /// The first entry of every generation after the first: the seal's contents again.
    Base,
}

/// One log entry: what it does, and the records it carries.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    pub(crate) kind: Kind,
    pub(crate) epoch: Option<Epoch>,
    pub(crate) checkpoints: Vec<Checkpoint>,
    /// Blobs with their namespace.
    pub(crate) blobs: Vec<(String, ChannelBlob)>,
    /// Writes with their namespace and checkpoint.
    pub(crate) writes: Vec<(String, CheckpointId, PendingWrite)>,
}

impl Entry {
    /// An entry of `kind` carrying nothing yet.
    pub(crate) fn new(kind: Kind) -> Self {
        Self {
            kind,
            epoch: None,
            checkpoints: Vec::new(),
            blobs: Vec::new(),
            writes: Vec::new(),
        }
    }

    /// Everything `records` hold, as one entry of `kind` (a seal, a base or an import) that
    /// carries `epoch`.
    pub(crate) fn of_records(kind: Kind, records: &ThreadRecords, epoch: Option<Epoch>) -> Self {
        Self {
            kind,
            epoch,
            checkpoints: records.checkpoints().cloned().collect(),
            blobs: records
                .blobs()
                .map(|(ns, blob)| (ns.to_owned(), blob))
                .collect(),
            writes: records
                .writes()
                .map(|(ns, id, w)| (ns.to_owned(), id, w.clone()))
                .collect(),
        }
    }
}

#[derive(Serialize, Deserialize)]
struct Header {
    kind: Kind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    epoch: Option<Epoch>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    checkpoints: Vec<Checkpoint>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    blobs: Vec<BlobHead>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    writes: Vec<WriteHead>,
}

#[derive(Serialize, Deserialize)]
struct BlobHead {
    ns: String,
    channel: String,
    version: CheckpointId,
    kind: BlobKind,
    len: u64,
}

#[derive(Serialize, Deserialize)]
struct WriteHead {
    ns: String,
    checkpoint: CheckpointId,
    task_id: TaskId,
    node: String,
    idx: i32,
    channel: String,
    len: u64,
}

/// The object's bytes.
pub(crate) fn encode(entry: &Entry) -> Result<Vec<u8>, String> {
    let header = Header {
        kind: entry.kind,
        epoch: entry.epoch,
        checkpoints: entry.checkpoints.clone(),
        blobs: entry
            .blobs
            .iter()
            .map(|(ns, b)| BlobHead {
                ns: ns.clone(),
                channel: b.channel.clone(),
                version: b.version,
                kind: b.kind,
                len: b.data.len() as u64,
            })
            .collect(),
        writes: entry
            .writes
            .iter()
            .map(|(ns, checkpoint, w)| WriteHead {
                ns: ns.clone(),
                checkpoint: *checkpoint,
                task_id: w.task_id,
                node: w.node.clone(),
                idx: w.idx,
                channel: w.channel.clone(),
                len: w.value.len() as u64,
            })
            .collect(),
    };
    let header = serde_json::to_vec(&header).map_err(|e| format!("cannot encode entry: {e}"))?;
    let header_len = u32::try_from(header.len())
        .map_err(|_| "the entry's header is larger than 4 GiB".to_owned())?;
    let values: usize = entry.blobs.iter().map(|(_, b)| b.data.len()).sum::<usize>()
        + entry
            .writes
            .iter()
            .map(|(_, _, w)| w.value.len())
            .sum::<usize>();
    let mut bytes = Vec::with_capacity(MAGIC.len() + 4 + header.len() + values);
    bytes.extend_from_slice(MAGIC);
    bytes.extend_from_slice(&header_len.to_le_bytes());
    bytes.extend_from_slice(&header);
    for (_, blob) in &entry.blobs {
        bytes.extend_from_slice(&blob.data);
    }
    for (_, _, write) in &entry.writes {
        bytes.extend_from_slice(&write.value);
    }
    Ok(bytes)
}

/// The entry `bytes` hold, or what is wrong with them (a truncated or foreign object).
pub(crate) fn decode(bytes: &[u8]) -> Result<Entry, String> {
    let rest = bytes
        .strip_prefix(MAGIC)
        .ok_or("it does not start with the log entry marker")?;
    let (len, rest) = rest
        .split_first_chunk::<4>()
        .ok_or("it ends inside the header length")?;
    let len = u32::from_le_bytes(*len) as usize;
    if rest.len() < len {
        return Err(format!(
            "it is truncated: the header needs {len} bytes, {} remain",
            rest.len()
        ));
    }
    let (header, mut values) = rest.split_at(len);
    let header: Header =
        serde_json::from_slice(header).map_err(|e| format!("its header does not decode: {e}"))?;
    let needed: u64 = header.blobs.iter().map(|b| b.len).sum::<u64>()
        + header.writes.iter().map(|w| w.len).sum::<u64>();
    if needed != values.len() as u64 {
        return Err(format!(
            "it is truncated or padded: the header lists {needed} bytes of values, {} follow",
            values.len()
        ));
    }
    let mut take = |len: u64| {
        let (value, rest) = values.split_at(len as usize);
        values = rest;
        value.to_vec()
    };
    let blobs = header
        .blobs
        .into_iter()
        .map(|b| {
            let data = take(b.len);
            (
                b.ns,
                ChannelBlob {
                    channel: b.channel,
                    version: b.version,
                    kind: b.kind,
                    data,
                },
            )
        })
        .collect();
    let writes = header
        .writes
        .into_iter()
        .map(|w| {
            let value = take(w.len);
            (
                w.ns,
                w.checkpoint,
                PendingWrite {
                    task_id: w.task_id,
                    node: w.node,
                    idx: w.idx,
                    channel: w.channel,
                    value,
                },
            )
        })
        .collect();
    Ok(Entry {
        kind: header.kind,
        epoch: header.epoch,
        checkpoints: header.checkpoints,
        blobs,
        writes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Entry {
        let mut entry = Entry::new(Kind::Writes);
        entry.writes.push((
            "ns".into(),
            CheckpointId::new(),
            PendingWrite {
                task_id: TaskId::derive(CheckpointId::new(), "", 0, "a"),
                node: "a".into(),
                idx: 0,
                channel: "count".into(),
                value: b"[1,2]".to_vec(),
            },
        ));
        entry
    }

    #[test]
    fn round_trips_exact_bytes() {
        let entry = sample();
        let back = decode(&encode(&entry).unwrap()).unwrap();
        assert_eq!(back.kind, Kind::Writes);
        assert_eq!(back.writes, entry.writes);
    }

    #[test]
    fn truncated_objects_are_refused() {
        let bytes = encode(&sample()).unwrap();
        for cut in [0, 3, MAGIC.len() + 2, MAGIC.len() + 10, bytes.len() - 1] {
            assert!(
                decode(&bytes[..cut]).is_err(),
                "cut at {cut} must not decode"
            );
        }
        let mut padded = bytes.clone();
        padded.push(b'x');
        assert!(decode(&padded).unwrap_err().contains("padded"));
    }
}
