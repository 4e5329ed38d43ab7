//! The Lua scripts, each prefixed with the helpers in `scripts/common.lua`. A script runs
//! atomically on the server, so a put (checkpoint, blobs, index entries, expiry) is all or
//! nothing, and its parent check cannot race another writer.

use redis::Script;

macro_rules! script {
    ($file:literal) => {
        Script::new(concat!(
            include_str!("scripts/common.lua"),
            "\n",
            include_str!($file)
        ))
    };
}

/// Every script, hashed once per saver.
pub(crate) struct Scripts {
    pub(crate) claim: Script,
    pub(crate) claim_if: Script,
    pub(crate) put: Script,
    pub(crate) put_writes: Script,
    pub(crate) page: Script,
    pub(crate) read: Script,
    pub(crate) delete: Script,
    pub(crate) copy: Script,
    pub(crate) prune: Script,
    pub(crate) forget: Script,
    pub(crate) store_put: Script,
    pub(crate) store_sweep: Script,
}

impl Scripts {
    pub(crate) fn new() -> Self {
        Self {
            claim: script!("scripts/claim.lua"),
            claim_if: script!("scripts/claim_if.lua"),
            put: script!("scripts/put.lua"),
            put_writes: script!("scripts/put_writes.lua"),
            page: script!("scripts/page.lua"),
            read: script!("scripts/read.lua"),
            delete: script!("scripts/delete.lua"),
            copy: script!("scripts/copy.lua"),
            prune: script!("scripts/prune.lua"),
            forget: script!("scripts/forget.lua"),
            store_put: script!("scripts/store_put.lua"),
            store_sweep: script!("scripts/store_sweep.lua"),
        }
    }

    pub(crate) fn all(&self) -> [&Script; 12] {
        [
            &self.claim,
            &self.claim_if,
            &self.put,
            &self.put_writes,
            &self.page,
            &self.read,
            &self.delete,
            &self.copy,
            &self.prune,
            &self.forget,
            &self.store_put,
            &self.store_sweep,
        ]
    }
}
