//! The persistence check `setup()` runs: whether a server restart would lose checkpoints.
//!
//! Redis keeps data in memory. Only the append-only file (AOF) makes a write survive a
//! restart: with `appendfsync always` every write is on disk before it is acknowledged; with
//! `everysec` (the usual choice) a crash of the machine may lose the last second; with `no`
//! the OS decides when to flush (often 30 s). RDB snapshots (`save`) lose everything written
//! since the last snapshot.

use std::collections::HashMap;

use redis::aio::ConnectionManager;

/// What the check found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Persistence {
    /// AOF on, fsync `always` or `everysec`.
    Durable {
        /// The `appendfsync` setting.
        appendfsync: String,
    },
    /// A restart loses checkpoints, or the settings could not be read; why, in words.
    Volatile(String),
}

pub(crate) async fn check(conn: &mut ConnectionManager, url: &str) -> Persistence {
    let settings: Result<HashMap<String, String>, _> = redis::cmd("CONFIG")
        .arg("GET")
        .arg("appendonly")
        .arg("appendfsync")
        .arg("save")
        .query_async(conn)
        .await;
    match settings {
        Ok(settings) => judge(&settings, url),
        Err(e) => Persistence::Volatile(format!(
            "cannot check whether the Redis server at {url} persists checkpoints: `CONFIG GET \
             appendonly appendfsync` failed ({e}). Managed Redis services often disable or \
             rename CONFIG. Make sure the service runs with the append-only file on \
             (`appendonly yes` with `appendfsync everysec` or `always`; some providers call it \
             \"AOF persistence\" or \"data persistence\"), then opt in explicitly with \
             `RedisSaver::builder(url).allow_volatile(true)`"
        )),
    }
}

const HOW_TO: &str = "Turn on the append-only file: run `CONFIG SET appendonly yes` and \
    `CONFIG SET appendfsync everysec` (or `always`, to lose nothing even if the machine \
    crashes), then `CONFIG REWRITE` to keep them; or put the lines `appendonly yes` and \
    `appendfsync everysec` in redis.conf and restart the server. To use this server anyway \
    (tests, recomputable work), opt in with `RedisSaver::builder(url).allow_volatile(true)`";

fn judge(settings: &HashMap<String, String>, url: &str) -> Persistence {
    let get = |name: &str| settings.get(name).map(String::as_str).unwrap_or("");
    let save = match get("save") {
        "" => "no RDB snapshots either (`save \"\"`)".to_owned(),
        rules => format!(
            "RDB snapshots (`save {rules}`) keep only what was written up to the last snapshot"
        ),
    };
    if !get("appendonly").eq_ignore_ascii_case("yes") {
        return Persistence::Volatile(format!(
            "the Redis server at {url} would lose checkpoints on restart: `appendonly` is `{}` \
             and {save}. {HOW_TO}",
            get("appendonly")
        ));
    }
    let fsync = get("appendfsync").to_ascii_lowercase();
    if fsync != "always" && fsync != "everysec" {
        return Persistence::Volatile(format!(
            "the Redis server at {url} may lose checkpoints on restart: `appendonly` is `yes` \
             but `appendfsync` is `{fsync}`, so the OS decides when the file reaches the disk. \
             Run `CONFIG SET appendfsync everysec` (or `always`) and `CONFIG REWRITE`, or put \
             `appendfsync everysec` in redis.conf. To use this server anyway, opt in with \
             `RedisSaver::builder(url).allow_volatile(true)`"
        ));
    }
    Persistence::Durable { appendfsync: fsync }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn verdicts() {
        let no_aof = judge(
            &settings(&[
                ("appendonly", "no"),
                ("appendfsync", "everysec"),
                ("save", "3600 1"),
            ]),
            "u",
        );
        let Persistence::Volatile(why) = no_aof else {
            panic!("no AOF must be volatile")
        };
        assert!(why.contains("CONFIG SET appendonly yes"), "{why}");
        assert!(why.contains("save 3600 1"), "{why}");
        let lazy = judge(
            &settings(&[("appendonly", "yes"), ("appendfsync", "no")]),
            "u",
        );
        assert!(matches!(lazy, Persistence::Volatile(w) if w.contains("appendfsync everysec")));
        assert_eq!(
            judge(
                &settings(&[("appendonly", "yes"), ("appendfsync", "always")]),
                "u"
            ),
            Persistence::Durable {
                appendfsync: "always".into()
            }
        );
    }
}
