//! The node cache: one string key per entry, `<prefix>:cache:<key>`, expiring with Redis's own
//! TTL (none: kept until replaced), so an expired entry is never returned and Redis removes it.

use std::time::Duration;

use redis::AsyncCommands;
use stategraph_checkpoint::CheckpointError;

use crate::RedisSaver;
use crate::error::Context;

impl RedisSaver {
    fn cache_key(&self, key: &str) -> String {
        format!("{}:cache:{key}", self.keys.prefix())
    }

    /// The entry under `key`, unless absent or expired.
    pub(crate) async fn cached(&self, key: &str) -> Result<Option<Vec<u8>>, CheckpointError> {
        let ctx = Context::new("cache_get", None);
        let mut conn = self.conn.clone();
        conn.get(self.cache_key(key))
            .await
            .map_err(|e| ctx.redis(e))
    }

    /// Stores `value` under `key`, expiring `ttl` from now.
    pub(crate) async fn cache(
        &self,
        key: &str,
        value: Vec<u8>,
        ttl: Option<Duration>,
    ) -> Result<(), CheckpointError> {
        let ctx = Context::new("cache_put", None);
        let mut conn = self.conn.clone();
        let key = self.cache_key(key);
        match ttl {
            // At least a millisecond: Redis refuses a zero expiry.
            Some(ttl) => {
                let millis = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1);
                conn.pset_ex::<_, _, ()>(key, value, millis).await
            }
            None => conn.set::<_, _, ()>(key, value).await,
        }
        .map_err(|e| ctx.redis(e))
    }
}
