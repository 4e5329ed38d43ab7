//! The update a subgraph that shares its graph's state hands back: every channel whose value
//! the call changed, replaced with its final value.
//!
//! Replacing, rather than merging each inner write through the reducers again, is what keeps a
//! shared `append` or `messages` channel from being doubled (the inner nodes' writes are in
//! the final value already). A sibling task of the same step that replaces one of those
//! channels too is a conflicting-writes error, as for any two nodes.

use crate::node::NodeError;
use crate::state::{State, StateUpdate};

/// The update that turns `before` into `after` channel by channel.
pub(super) fn changes<S: State>(before: &S, after: &S) -> Result<S::Update, NodeError> {
    let mut update = S::Update::default();
    for (channel, spec) in S::CHANNELS.iter().enumerate() {
        let old = before.encode_channel(channel)?;
        let new = after.encode_channel(channel)?;
        if old == new {
            continue;
        }
        // A reducer channel's write says it replaces the value; a plain one always does.
        let write = match spec.reducer {
            Some(_) => {
                let mut write = Vec::with_capacity(new.len() + 12);
                write.extend_from_slice(b"{\"replace\":");
                write.extend_from_slice(&new);
                write.push(b'}');
                write
            }
            None => new,
        };
        update.decode_write(channel, &write)?;
    }
    Ok(update)
}
