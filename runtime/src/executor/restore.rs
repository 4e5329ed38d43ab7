//! Reading a stored checkpoint back: its channels' blob chains into a state, with the chain
//! each channel continues.

use super::ChannelChain;
use crate::checkpoint::{BlobKind, CheckpointError, CheckpointTuple};
use crate::ids::CheckpointId;
use crate::send::SENDS;
use crate::state::{State, Stored};

/// Rebuilds a state and its channel chains from a stored checkpoint. A stored channel the type
/// does not know (and does not declare renamed or removed) is
/// [`CheckpointError::UnknownChannel`]: reading on would drop its value.
pub(crate) fn restore_state<S: State>(
    tuple: &CheckpointTuple,
) -> Result<(S, Vec<ChannelChain>), CheckpointError> {
    let checkpoint = &tuple.checkpoint;
    let stored = checkpoint.metadata.state_version;
    if stored > S::VERSION {
        return Err(CheckpointError::NewerStateVersion {
            thread_id: checkpoint.thread_id.clone(),
            checkpoint: checkpoint.id,
            stored,
            known: S::VERSION,
        });
    }
    if stored < S::VERSION {
        // Read as the version that wrote it and migrated: the next checkpoint stores every
        // channel again, whole, as this version's.
        let state = S::migrate_from(stored, tuple)?;
        return Ok((state, vec![ChannelChain::rewritten(); S::CHANNELS.len()]));
    }
    // Where each channel is stored: under its name, or an earlier one.
    let mut stored_as: Vec<Option<(&str, CheckpointId, bool)>> = vec![None; S::CHANNELS.len()];
    for (name, version) in &checkpoint.channel_versions {
        if name == SENDS {
            continue; // the inputs sent to the next step, not a field (see `send.rs`)
        }
        match Stored::of::<S>(name) {
            Stored::Current(index) => stored_as[index] = Some((name, *version, false)),
            Stored::Renamed(index) => {
                stored_as[index].get_or_insert((name, *version, true));
            }
            Stored::Removed => {}
            Stored::Unknown => {
                return Err(CheckpointError::UnknownChannel {
                    thread_id: checkpoint.thread_id.clone(),
                    checkpoint: checkpoint.id,
                    channel: bounded(name),
                });
            }
        }
    }
    let mut state = S::default();
    let mut chains = vec![ChannelChain::default(); S::CHANNELS.len()];
    for (index, spec) in S::CHANNELS.iter().enumerate() {
        let Some((name, version, renamed)) = stored_as[index] else {
            continue;
        };
        let blobs = tuple
            .channels
            .get(name)
            .map(Vec::as_slice)
            .unwrap_or_default();
        let corrupt =
            |detail: String| CheckpointError::corrupt(&checkpoint.thread_id, checkpoint.id, detail);
        if blobs.last().map(|b| b.version) != Some(version) {
            return Err(corrupt(format!(
                "channel `{name}` has no value at version {version}"
            )));
        }
        let (snapshot, deltas) = match blobs.split_first() {
            Some((first, rest)) if first.kind == BlobKind::Snapshot => (Some(first), rest),
            _ => (None, blobs),
        };
        if deltas.iter().any(|b| b.kind == BlobKind::Snapshot) {
            return Err(corrupt(format!(
                "channel `{name}` has a snapshot inside its delta chain"
            )));
        }
        let delta_data: Vec<&[u8]> = deltas.iter().map(|b| b.data.as_slice()).collect();
        state
            .decode_channel(index, snapshot.map(|b| b.data.as_slice()), &delta_data)
            .map_err(|source| CheckpointError::Decode {
                thread_id: checkpoint.thread_id.clone(),
                checkpoint: checkpoint.id,
                channel: spec.name.to_owned(),
                source,
            })?;
        chains[index] = if renamed {
            // Its blobs are stored under the old name; the next checkpoint writes it anew.
            ChannelChain {
                rewrite: true,
                ..ChannelChain::default()
            }
        } else {
            ChannelChain {
                version: Some(version),
                snapshot_bytes: snapshot.map_or(0, |b| b.data.len()),
                delta_bytes: delta_data.iter().map(|d| d.len()).sum(),
                deltas: delta_data.len(),
                rewrite: false,
            }
        };
    }
    Ok((state, chains))
}

/// A stored name as an error message may quote it: at most 64 characters.
pub(crate) fn bounded(name: &str) -> String {
    match name.char_indices().nth(64) {
        Some((at, _)) => format!("{}…", &name[..at]),
        None => name.to_owned(),
    }
}
