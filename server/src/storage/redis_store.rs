//! Boards in Redis: one stream per board as its log, everything else in keys beside it.
//!
//! Every key of a board carries the board id as a Redis Cluster hash tag (`{id}`), so that the
//! scripts below, which touch several keys of one board, stay on one slot; `STORAGE.md`
//! ("Redis") documents each key:
//!
//! | key                                  | type   | holds                                              |
//! |--------------------------------------|--------|----------------------------------------------------|
//! | `parcours:board:{id}:log`            | stream | one entry per update, id `seq-0`: `u` update, `i` who and when (`record.rs`), `n` the server that appended it; after a deletion, first a tombstone `d` |
//! | `parcours:board:{id}:seq`            | string | the last position handed out (kept on delete)      |
//! | `parcours:board:{id}:deleted`        | string | the position of the board's last deletion (kept)   |
//! | `parcours:board:{id}:record`         | hash   | `created_ms`, `checkpointed_ms`, `snapshot_bytes`, `summary` (JSON), `forked_from` (JSON) |
//! | `parcours:board:{id}:checkpoints`    | zset   | checkpoint positions (score and member: seq)       |
//! | `parcours:board:{id}:checkpoint_data`| hash   | seq → checkpoint, in the sled store's form         |
//! | `parcours:board:{id}:authors`        | list   | JSON [`Author`], numbered by position              |
//! | `parcours:board:{id}:author_index`   | hash   | JSON [`Author`] → its number                       |
//! | `parcours:board:{id}:milestones`     | hash   | milestone id → JSON [`Milestone`]                  |
//! | `parcours:board:{id}:checkpoint_lease` | string | the server writing the board's checkpoints, expiring |
//! | `parcours:board:{id}:here`           | hash   | server id → `count expires_ms`: participants each server has on the board |
//! | `parcours:boards`                    | zset   | every board id, score 0 (listed by `ZRANGEBYLEX`)  |
//!
//! Positions ([`LogSeq`]) come from the board's own counter, incremented in the append script and
//! used as the explicit stream id `seq-0`: so positions increase, are dense per board, and a
//! stream entry's id *is* its position (a follower reading the stream needs no mapping). The
//! counter survives a board's deletion, so a board created again never reuses a position that
//! a cache elsewhere might still hold. A deletion takes a position too: the stream is emptied
//! down to one tombstone entry there, which tells the servers following the board that it is
//! gone, and no checkpoint from before it is accepted afterwards (a server that had not heard yet
//! cannot bring the deleted board back).
//!
//! Durability: every write is one script or one `MULTI`, acknowledged by a Redis that appends it
//! to its AOF and fsyncs before replying (`appendfsync always`, checked by
//! [`RedisStore::open`]). So [`Store::append`] returning means the updates are on Redis's disk,
//! and [`Store::flush`] has nothing left to do.

use std::collections::HashMap;
use std::sync::LazyLock;
use std::time::Duration;

use async_trait::async_trait;
use client_protocol::BoardId;
use redis::aio::ConnectionManager;
use redis::{AsyncCommands as _, Script, Value};

use super::history::{Author, Entry, LogQuery, LogRecord, Milestone, UpdateMeta};
use super::record::{self, Info};
use super::sled_store::{decode_checkpoint_at, encode_checkpoint};
use super::{
    now_ms, BoardRecord, BoardSummary, ForkedFrom, LogSeq, Store, StoreError, StoredBoard,
};

/// The sorted set of every board id.
const BOARDS_KEY: &str = "parcours:boards";
/// How long one command may wait for Redis's answer: a stopped or unreachable Redis then fails
/// the write (its board closes with 4507 and reloads) rather than holding rooms forever.
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long readiness waits for Redis to answer.
const HEALTH_TIMEOUT: Duration = Duration::from_secs(1);
/// How long connecting may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How often the connection manager tries to reconnect before a command fails...
const RECONNECT_RETRIES: usize = 3;
/// ...waiting at most this long (ms) between tries.
const RECONNECT_MAX_DELAY_MS: u64 = 1_000;

/// Why a Redis store could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum RedisStoreError {
    /// The URL is not a Redis URL, or Redis could not be reached.
    #[error("connecting to Redis at {url}: {reason}")]
    Connect {
        /// The URL, without its password.
        url: String,
        /// Why.
        reason: String,
    },
    /// `CONFIG GET` was refused (managed services often disable it), so the durability settings
    /// cannot be checked.
    #[error(
        "cannot read Redis's persistence settings (CONFIG GET failed: {0}); if this is a managed \
         service that disables CONFIG, make sure it fsyncs every write (appendonly yes, \
         appendfsync always) and never evicts (maxmemory-policy noeviction), then start with \
         --redis-allow-unsafe-persistence"
    )]
    ConfigUnreadable(String),
    /// Redis would lose acknowledged writes or evict keys.
    #[error(
        "Redis would lose acknowledged edits: {0}. Set appendonly yes, appendfsync always and \
         maxmemory-policy noeviction, or start with --redis-allow-unsafe-persistence to run \
         anyway"
    )]
    UnsafePersistence(String),
}

/// A [`Store`] on one Redis (or Valkey) server.
#[derive(Clone)]
pub struct RedisStore {
    conn: ConnectionManager,
    /// For followers' connections of their own: a blocking `XREAD` holds its connection.
    client: redis::Client,
    /// This server among those sharing the Redis: the prefix of what it publishes, so that it
    /// ignores its own messages.
    node: [u8; 8],
}

/// Presence messages waiting to be published for one board; past this, new ones are dropped
/// (presence is renewed every few seconds; documents never travel this way).
const PRESENCE_QUEUE: usize = 256;

/// Reads one board's stream with blocking `XREAD`s on a connection of its own, made again after
/// a failure (a multiplexed connection does not come back by itself once Redis restarted).
struct StreamFollower {
    client: redis::Client,
    conn: Option<redis::aio::MultiplexedConnection>,
    board: BoardId,
    log: String,
    /// This server's id as its stream entries carry it.
    node: String,
}

/// Most records one read returns.
const FOLLOW_BATCH: usize = 512;

/// A subscription to `channel`, on a connection of its own.
async fn subscribe(
    client: &redis::Client,
    channel: &str,
) -> Result<redis::aio::PubSub, StoreError> {
    let subscribe = async {
        let mut pubsub = client.get_async_pubsub().await?;
        pubsub.subscribe(channel).await?;
        Ok::<_, redis::RedisError>(pubsub)
    };
    tokio::time::timeout(CONNECT_TIMEOUT, subscribe)
        .await
        .map_err(|_| StoreError::Backend("no presence subscription on Redis".into()))?
        .map_err(backend)
}

/// A connection of its own, for a follower.
async fn connect(client: &redis::Client) -> Result<redis::aio::MultiplexedConnection, StoreError> {
    tokio::time::timeout(CONNECT_TIMEOUT, client.get_multiplexed_async_connection())
        .await
        .map_err(|_| StoreError::Backend("no connection to Redis for a follower".into()))?
        .map_err(backend)
}

#[async_trait]
impl super::Follower for StreamFollower {
    async fn next(
        &mut self,
        after: LogSeq,
        wait: Duration,
    ) -> Result<Vec<super::Followed>, StoreError> {
        let mut options = redis::streams::StreamReadOptions::default().count(FOLLOW_BATCH);
        // `BLOCK 0` would wait for ever.
        if !wait.is_zero() {
            options = options.block(wait.as_millis() as usize);
        }
        let (keys, from) = ([self.log.clone()], [format!("{after}-0")]);
        let conn = match &mut self.conn {
            Some(conn) => conn,
            None => self.conn.insert(connect(&self.client).await?),
        };
        let read = conn
            .xread_options::<_, _, Option<redis::streams::StreamReadReply>>(&keys, &from, &options);
        // A Redis that stopped answering must not hold the follower forever.
        let reply = match tokio::time::timeout(wait + RESPONSE_TIMEOUT, read).await {
            Ok(Ok(reply)) => reply,
            failed => {
                self.conn = None;
                return Err(match failed {
                    Ok(Err(error)) => backend(error),
                    _ => StoreError::Backend("Redis did not answer XREAD".into()),
                });
            }
        };
        let mut records = Vec::new();
        for key in reply.map(|r| r.keys).unwrap_or_default() {
            for entry in key.ids {
                let seq = seq_of_id(&self.board, &entry.id)?;
                let own = entry.get::<String>("n").is_some_and(|n| n == self.node);
                let deleted = entry.map.contains_key("d");
                let update: Vec<u8> = if own || deleted {
                    Vec::new()
                } else {
                    entry.get("u").ok_or_else(|| {
                        StoreError::Backend(format!("entry {seq} has no update").into())
                    })?
                };
                let stored_ms = entry
                    .get::<Vec<u8>>("i")
                    .and_then(|info| Info::decode(&info))
                    .map_or(0, |info| info.time_ms);
                records.push(super::Followed {
                    seq,
                    update,
                    stored_ms,
                    deleted,
                    own,
                });
            }
        }
        Ok(records)
    }
}

/// The names of one board's keys.
struct Keys {
    log: String,
    seq: String,
    record: String,
    checkpoints: String,
    checkpoint_data: String,
    authors: String,
    author_index: String,
    milestones: String,
    trimmed: String,
    deleted: String,
    here: String,
    lease: String,
    /// Not a key: the board's pub/sub channel.
    presence: String,
}

impl Keys {
    fn of(board: &BoardId) -> Self {
        let key = |what: &str| format!("parcours:board:{{{board}}}:{what}");
        Keys {
            log: key("log"),
            seq: key("seq"),
            record: key("record"),
            checkpoints: key("checkpoints"),
            checkpoint_data: key("checkpoint_data"),
            authors: key("authors"),
            author_index: key("author_index"),
            milestones: key("milestones"),
            trimmed: key("trimmed"),
            deleted: key("deleted"),
            here: key("here"),
            lease: key("checkpoint_lease"),
            presence: key("presence"),
        }
    }
}

/// Appends a batch: hands out positions from the board's counter, numbers new authors, adds one
/// stream entry per update with its record (the author's number encoded between the two halves
/// Rust encoded), and creates the board's record if it is new. One round trip; Redis runs it
/// whole and writes it to the AOF as one transaction.
///
/// KEYS: log, seq, authors, author_index, record, boards.
/// ARGV: board id, time ms, count, then per update: record before author, author JSON, record
/// after author, update.
static APPEND: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local function var(n)
  local out = {}
  while n >= 128 do
    out[#out + 1] = string.char(n % 128 + 128)
    n = math.floor(n / 128)
  end
  out[#out + 1] = string.char(n)
  return table.concat(out)
end
local n = tonumber(ARGV[3])
local first = redis.call('INCRBY', KEYS[2], n) - n
for i = 0, n - 1 do
  local base = 5 + i * 4
  local author = ARGV[base + 1]
  local index = redis.call('HGET', KEYS[4], author)
  if not index then
    index = redis.call('RPUSH', KEYS[3], author) - 1
    redis.call('HSET', KEYS[4], author, index)
  end
  local info = ARGV[base] .. var(tonumber(index)) .. ARGV[base + 2]
  redis.call('XADD', KEYS[1], string.format('%d-0', first + i + 1), 'u', ARGV[base + 3], 'i', info, 'n', ARGV[4])
end
if redis.call('HSETNX', KEYS[5], 'created_ms', ARGV[2]) == 1 then
  redis.call('ZADD', KEYS[6], 0, ARGV[1])
end
return first + n
",
    )
});

/// Reads the newest checkpoint at or before ARGV[1] (`+inf` for the newest) and the stream
/// entries after it up to that position, atomically. Returns the checkpoint's position (or
/// false), its record (or false), the position of the board's last deletion ('0' if none), then
/// each entry's id and update (a deletion's tombstone has none and is left out).
///
/// KEYS: checkpoints, checkpoint_data, log, trimmed, deleted.
static LOAD: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local top = redis.call('ZREVRANGEBYSCORE', KEYS[1], ARGV[1], '-inf', 'LIMIT', 0, 1)
local trimmed = tonumber(redis.call('GET', KEYS[4]) or '0')
if trimmed > 0 and (not top[1] or tonumber(top[1]) < trimmed) then
  return redis.error_reply('TRIMMED the stream no longer holds what rebuilds this version')
end
local out = {false, false, redis.call('GET', KEYS[5]) or '0'}
local start = '-'
if top[1] then
  out[1] = top[1]
  out[2] = redis.call('HGET', KEYS[2], top[1])
  start = string.format('%d-0', tonumber(top[1]) + 1)
end
local stop = '+'
if ARGV[1] ~= '+inf' then stop = ARGV[1] .. '-0' end
for _, entry in ipairs(redis.call('XRANGE', KEYS[3], start, stop)) do
  local fields = entry[2]
  for j = 1, #fields, 2 do
    if fields[j] == 'u' then
      out[#out + 1] = entry[1]
      out[#out + 1] = fields[j + 1]
    end
  end
end
return out
",
    )
});

/// Stores a checkpoint only if it is not older than the newest one (compare-and-set on the
/// position): a stale writer, such as a slow compactor, never replaces a newer checkpoint. One at
/// the same position is the same document, so it is written again (with its summary, which the
/// room gives only to its final checkpoint). A
/// checkpoint past the last position handed out is refused as an error. With a summary, also
/// updates the board's record. Returns 1 if stored, 0 if stale.
///
/// KEYS: checkpoints, checkpoint_data, record, boards, seq, deleted.
/// ARGV: through, checkpoint record, summary JSON or '', time ms, snapshot bytes, board id.
static CHECKPOINT: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local through = tonumber(ARGV[1])
if through > tonumber(redis.call('GET', KEYS[5]) or '0') then
  return redis.error_reply('checkpoint at ' .. ARGV[1] .. ' is past the end of the log')
end
if through <= tonumber(redis.call('GET', KEYS[6]) or '0') then return 0 end
local top = redis.call('ZREVRANGE', KEYS[1], 0, 0, 'WITHSCORES')
if top[2] and tonumber(top[2]) > through then return 0 end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[1])
if ARGV[3] ~= '' then
  if redis.call('HSETNX', KEYS[3], 'created_ms', ARGV[4]) == 1 then
    redis.call('ZADD', KEYS[4], 0, ARGV[6])
  end
  redis.call('HSET', KEYS[3], 'checkpointed_ms', ARGV[4], 'snapshot_bytes', ARGV[5], 'summary', ARGV[3])
end
return 1
",
    )
});

/// Deletes a board: everything but its position counter, in one transaction, then takes the
/// next position for a tombstone that the servers following the stream read as "deleted", and
/// remembers it (checkpoints from before it are refused). Returns that position.
///
/// KEYS: record, boards, seq, deleted, log, then every other key of the board to drop.
/// ARGV: board id, this server's id.
static DELETE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('DEL', KEYS[1], unpack(KEYS, 5))
local at = redis.call('INCR', KEYS[3])
redis.call('SET', KEYS[4], at)
redis.call('XADD', KEYS[5], string.format('%d-0', at), 'd', '1', 'n', ARGV[2])
return at
",
    )
});

/// Sets a board's listed summary, if the board exists (a deleted board is not brought back).
///
/// KEYS: record. ARGV: summary JSON.
static SHARE_SUMMARY: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'summary', ARGV[1])
return 1
",
    )
});

/// How long a server's participant count stands without being reported again (it reports with
/// every heartbeat, every 3 s): a crashed server's participants stop being counted after this.
const HERE_TTL: Duration = Duration::from_secs(10);

/// Sets this server's participant count on a board (removes it for 0), and drops the counts of
/// servers that stopped reporting.
///
/// KEYS: here. ARGV: this server's id, count, now ms, expiry ms.
static COUNT_PARTICIPANTS: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
if ARGV[2] == '0' then
  redis.call('HDEL', KEYS[1], ARGV[1])
else
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2] .. ' ' .. ARGV[4])
end
local fields = redis.call('HGETALL', KEYS[1])
for i = 1, #fields, 2 do
  local expires = tonumber(string.match(fields[i + 1], ' (%d+)$') or '0')
  if expires < tonumber(ARGV[3]) then redis.call('HDEL', KEYS[1], fields[i]) end
end
return 1
",
    )
});

/// Records kept in a board's stream behind its newest checkpoint: past them, the stream is
/// trimmed below a checkpoint, which stays (with everything after it), older ones going.
const KEEP_RECORDS: u64 = 10_000;

/// Trims a board's stream below its newest checkpoint at or before ARGV[1], dropping the
/// checkpoints before that one; remembers where (versions before it can no longer be rebuilt).
/// Returns the checkpoint trimmed to, or 0. KEYS: checkpoints, checkpoint_data, log, trimmed.
static TRIM: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local keep = redis.call('ZREVRANGEBYSCORE', KEYS[1], ARGV[1], '-inf', 'LIMIT', 0, 1)
if not keep[1] then return 0 end
local c = tonumber(keep[1])
if c <= tonumber(redis.call('GET', KEYS[4]) or '0') then return 0 end
redis.call('XTRIM', KEYS[3], 'MINID', string.format('%d-0', c + 1))
for _, seq in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. c)) do
  redis.call('HDEL', KEYS[2], seq)
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. c)
redis.call('SET', KEYS[4], c)
return c
",
    )
});

/// Takes or renews this server's lease on a board's checkpoints: granted if nobody holds it or
/// this server does. KEYS: lease. ARGV: server id, lease in ms.
static CLAIM: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local holder = redis.call('GET', KEYS[1])
if holder and holder ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
",
    )
});

/// How long a server's lease on a board's checkpoints lasts without renewal: a server that
/// stopped (or stalled) gives way to the others after this.
const CHECKPOINT_LEASE: Duration = Duration::from_secs(30);

/// Drops a checkpoint unless it is the newest. KEYS: checkpoints, checkpoint_data. ARGV: seq.
static REMOVE_CHECKPOINT: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local top = redis.call('ZREVRANGE', KEYS[1], 0, 0)
if top[1] == ARGV[1] then return 0 end
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
return 1
",
    )
});

fn backend(e: redis::RedisError) -> StoreError {
    StoreError::Backend(format!("redis: {e}").into())
}

fn corrupt(board: &BoardId, key: impl Into<String>, reason: impl ToString) -> StoreError {
    StoreError::Corrupt {
        board: board.to_string(),
        key: key.into(),
        reason: reason.to_string(),
    }
}

/// The position in a stream entry id `seq-0`.
fn seq_of_id(board: &BoardId, id: &str) -> Result<LogSeq, StoreError> {
    id.strip_suffix("-0")
        .and_then(|seq| seq.parse().ok())
        .ok_or_else(|| corrupt(board, format!("log/{id}"), "stream id is not `seq-0`"))
}

fn bytes_of(value: &Value) -> Option<&[u8]> {
    match value {
        Value::BulkString(bytes) => Some(bytes),
        Value::SimpleString(s) => Some(s.as_bytes()),
        _ => None,
    }
}

fn text_of(value: &Value) -> Option<&str> {
    bytes_of(value).and_then(|b| std::str::from_utf8(b).ok())
}

/// The URL as it may be logged: without a password.
fn redacted(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => match rest.rsplit_once('@') {
            Some((_, host)) => format!("{scheme}://…@{host}"),
            None => url.to_owned(),
        },
        None => url.to_owned(),
    }
}

impl RedisStore {
    /// Connects to the Redis at `url` (`redis://[:password@]host[:port][/db]`) and checks that it
    /// keeps what it acknowledges: `appendonly yes`, `appendfsync always` and `maxmemory-policy
    /// noeviction`. With `allow_unsafe_persistence`, a Redis that does not (or whose CONFIG is
    /// disabled) is used anyway, with a loud warning.
    pub async fn open(url: &str, allow_unsafe_persistence: bool) -> Result<Self, RedisStoreError> {
        let connect = |e: redis::RedisError| RedisStoreError::Connect {
            url: redacted(url),
            reason: e.to_string(),
        };
        let client = redis::Client::open(url).map_err(connect)?;
        let follower_client = client.clone();
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_response_timeout(RESPONSE_TIMEOUT)
            .set_connection_timeout(CONNECT_TIMEOUT)
            // Few retries with short pauses: a write waiting on a lost Redis fails (its board
            // closes and reloads later) rather than holding the room for minutes.
            .set_number_of_retries(RECONNECT_RETRIES)
            .set_max_delay(RECONNECT_MAX_DELAY_MS);
        // The manager retries its first connection too; an operator starting the server
        // against an unreachable Redis should hear about it at once.
        let conn = tokio::time::timeout(
            CONNECT_TIMEOUT,
            ConnectionManager::new_with_config(client, config),
        )
        .await
        .map_err(|_| RedisStoreError::Connect {
            url: redacted(url),
            reason: format!("no connection within {} s", CONNECT_TIMEOUT.as_secs()),
        })?
        .map_err(connect)?;
        let mut node = [0u8; 8];
        getrandom::fill(&mut node).map_err(|e| RedisStoreError::Connect {
            url: redacted(url),
            reason: format!("no random node id: {e}"),
        })?;
        let store = RedisStore {
            conn,
            client: follower_client,
            node,
        };
        match store.check_persistence().await {
            Ok(()) => {}
            Err(error) if allow_unsafe_persistence => tracing::warn!(
                %error,
                "--redis-allow-unsafe-persistence: running on a Redis that may LOSE EDITS \
                 participants have seen (a crash of Redis or its machine can drop acknowledged \
                 writes, or eviction can drop boards)"
            ),
            Err(error) => return Err(error),
        }
        tracing::info!(url = %redacted(url), "storage on Redis");
        Ok(store)
    }

    /// Checks the settings that make an acknowledged write durable and never evicted.
    pub async fn check_persistence(&self) -> Result<(), RedisStoreError> {
        let mut conn = self.conn.clone();
        let mut problems = Vec::new();
        for (name, wanted) in [
            ("appendonly", "yes"),
            ("appendfsync", "always"),
            ("maxmemory-policy", "noeviction"),
        ] {
            let pairs: HashMap<String, String> = redis::cmd("CONFIG")
                .arg("GET")
                .arg(name)
                .query_async(&mut conn)
                .await
                .map_err(|e| RedisStoreError::ConfigUnreadable(e.to_string()))?;
            let value = pairs
                .get(name)
                .ok_or_else(|| RedisStoreError::ConfigUnreadable(format!("no value for {name}")))?;
            if !value.eq_ignore_ascii_case(wanted) {
                problems.push(format!("{name} is {value} (needs {wanted})"));
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(RedisStoreError::UnsafePersistence(problems.join(", ")))
        }
    }

    fn conn(&self) -> ConnectionManager {
        self.conn.clone()
    }

    /// Runs a script, once more if the connection had dropped (the manager connects again
    /// behind it, as after Redis restarted), so that one stale connection does not fail a write
    /// to a Redis that is back. A script that never reached Redis is simply sent again; one whose
    /// reply alone was lost runs twice, which every script here allows: an update appended
    /// twice changes no document (applying a Yjs update again changes nothing), a deletion run
    /// twice leaves a second tombstone that reads the same, and the others write the same values
    /// again (a lease renewed by its holder, a trim to the same checkpoint).
    async fn invoke<T: redis::FromRedisValue>(
        &self,
        invocation: &redis::ScriptInvocation<'_>,
    ) -> Result<T, redis::RedisError> {
        match invocation.invoke_async(&mut self.conn()).await {
            Err(error) if error.is_connection_dropped() || error.is_io_error() => {
                tracing::debug!(%error, "the connection to Redis dropped; trying once more");
                invocation.invoke_async(&mut self.conn()).await
            }
            result => result,
        }
    }

    /// This server's id as it is written into its stream entries and checkpoint leases.
    fn node_name(&self) -> String {
        format!("{:016x}", u64::from_be_bytes(self.node))
    }

    async fn load_upto(
        &self,
        board: &BoardId,
        at: Option<LogSeq>,
    ) -> Result<StoredBoard, StoreError> {
        let keys = Keys::of(board);
        let mut invocation = LOAD.prepare_invoke();
        invocation
            .key(&keys.checkpoints)
            .key(&keys.checkpoint_data)
            .key(&keys.log)
            .key(&keys.trimmed)
            .key(&keys.deleted)
            .arg(at.map_or_else(|| "+inf".to_owned(), |at| at.to_string()));
        let reply: Vec<Value> = self.invoke(&invocation).await.map_err(|e| match e.code() {
            Some("TRIMMED") => StoreError::Unsupported(
                "versions from before the stream was trimmed are not kept on Redis",
            ),
            _ => backend(e),
        })?;
        let mut stored = StoredBoard::default();
        let mut reply = reply.into_iter();
        if let (Some(seq), Some(record)) = (reply.next(), reply.next()) {
            if let Some(seq) = text_of(&seq) {
                let key = format!("{}/{seq}", keys.checkpoint_data);
                let seq: LogSeq = seq
                    .parse()
                    .map_err(|_| corrupt(board, &key, "checkpoint position is not a number"))?;
                let record = bytes_of(&record)
                    .ok_or_else(|| corrupt(board, &key, "checkpoint listed but missing"))?;
                stored.snapshot = Some(decode_checkpoint_at(board, || key.clone(), record)?);
                stored.last_seq = Some(seq);
            }
        }
        // A board created again after a deletion goes on after the tombstone: that is where a
        // follower starts, so that it does not take the deletion for news.
        let deleted = reply
            .next()
            .as_ref()
            .and_then(text_of)
            .and_then(|t| t.parse::<LogSeq>().ok());
        if let Some(deleted) = deleted.filter(|d| *d > 0 && at.is_none_or(|at| *d <= at)) {
            stored.last_seq = Some(stored.last_seq.map_or(deleted, |s| s.max(deleted)));
        }
        while let (Some(id), Some(update)) = (reply.next(), reply.next()) {
            let id = text_of(&id).ok_or_else(|| corrupt(board, &keys.log, "bad entry id"))?;
            let seq = seq_of_id(board, id)?;
            let update = bytes_of(&update)
                .ok_or_else(|| corrupt(board, format!("{}/{id}", keys.log), "bad update"))?;
            stored.updates.push(update.to_vec());
            stored.last_seq = Some(seq);
        }
        Ok(stored)
    }

    fn record_of(
        board: &BoardId,
        fields: HashMap<String, Vec<u8>>,
    ) -> Result<BoardRecord, StoreError> {
        let key = || Keys::of(board).record;
        let number = |name: &str| -> Result<Option<u64>, StoreError> {
            fields
                .get(name)
                .map(|raw| {
                    std::str::from_utf8(raw)
                        .ok()
                        .and_then(|s| s.parse().ok())
                        .ok_or_else(|| corrupt(board, key(), format!("{name} is not a number")))
                })
                .transpose()
        };
        let json = |name: &str| -> Result<Option<serde_json::Value>, StoreError> {
            fields
                .get(name)
                .map(|raw| serde_json::from_slice(raw).map_err(|e| corrupt(board, key(), e)))
                .transpose()
        };
        Ok(BoardRecord {
            created_ms: number("created_ms")?.unwrap_or(0),
            checkpointed_ms: number("checkpointed_ms")?,
            snapshot_bytes: number("snapshot_bytes")?.unwrap_or(0),
            summary: json("summary")?
                .map(serde_json::from_value)
                .transpose()
                .map_err(|e| corrupt(board, key(), e))?
                .unwrap_or_default(),
            forked_from: json("forked_from")?
                .map(serde_json::from_value)
                .transpose()
                .map_err(|e| corrupt(board, key(), e))?,
        })
    }
}

#[async_trait]
impl Store for RedisStore {
    async fn load(&self, board: &BoardId) -> Result<StoredBoard, StoreError> {
        self.load_upto(board, None).await
    }

    async fn load_at(&self, board: &BoardId, at: LogSeq) -> Result<StoredBoard, StoreError> {
        self.load_upto(board, Some(at)).await
    }

    async fn append(&self, board: &BoardId, entries: &[Entry]) -> Result<LogSeq, StoreError> {
        let keys = Keys::of(board);
        let time_ms = now_ms();
        let mut invocation = APPEND.prepare_invoke();
        invocation
            .key(&keys.log)
            .key(&keys.seq)
            .key(&keys.authors)
            .key(&keys.author_index)
            .key(&keys.record)
            .key(BOARDS_KEY)
            .arg(board.as_str())
            .arg(time_ms)
            .arg(entries.len())
            .arg(self.node_name());
        for entry in entries {
            let info = Info {
                time_ms,
                first_ms: time_ms,
                role: Some(entry.actor.role),
                conn: Some(entry.conn),
                // The script puts the real index between the two halves.
                authors: vec![0],
                bytes: entry.update.len() as u64,
                updates: 1,
            };
            let (before, after) = info
                .encode_around_author()
                .expect("a single update's record splits around its author");
            let author =
                serde_json::to_vec(&Author::of(&entry.actor)).expect("an author serializes");
            invocation
                .arg(before)
                .arg(author)
                .arg(after)
                .arg(entry.update.as_slice());
        }
        self.invoke(&invocation).await.map_err(backend)
    }

    async fn checkpoint(
        &self,
        board: &BoardId,
        snapshot: Vec<u8>,
        through: LogSeq,
        summary: Option<BoardSummary>,
    ) -> Result<(), StoreError> {
        let keys = Keys::of(board);
        let summary = summary
            .map(|s| serde_json::to_vec(&s).expect("a summary serializes"))
            .unwrap_or_default();
        let mut invocation = CHECKPOINT.prepare_invoke();
        invocation
            .key(&keys.checkpoints)
            .key(&keys.checkpoint_data)
            .key(&keys.record)
            .key(BOARDS_KEY)
            .key(&keys.seq)
            .key(&keys.deleted)
            .arg(through)
            .arg(encode_checkpoint(&snapshot))
            .arg(summary)
            .arg(now_ms())
            .arg(snapshot.len())
            .arg(board.as_str());
        let stored: i64 = self.invoke(&invocation).await.map_err(backend)?;
        if stored == 0 {
            // Not an error: a newer checkpoint already covers everything this one would.
            tracing::debug!(board = %board, through, "stale checkpoint not stored");
            return Ok(());
        }
        // The stream stays bounded: what a checkpoint far enough behind covers goes.
        let mut invocation = TRIM.prepare_invoke();
        invocation
            .key(&keys.checkpoints)
            .key(&keys.checkpoint_data)
            .key(&keys.log)
            .key(&keys.trimmed)
            .arg(through.saturating_sub(KEEP_RECORDS));
        let trimmed_to: u64 = self.invoke(&invocation).await.map_err(backend)?;
        if trimmed_to > 0 {
            tracing::info!(board = %board, below = trimmed_to, "stream trimmed");
        }
        Ok(())
    }

    async fn record(&self, board: &BoardId) -> Result<Option<BoardRecord>, StoreError> {
        let fields: HashMap<String, Vec<u8>> = self
            .conn()
            .hgetall(Keys::of(board).record)
            .await
            .map_err(backend)?;
        if !fields.contains_key("created_ms") {
            return Ok(None);
        }
        Self::record_of(board, fields).map(Some)
    }

    async fn set_forked_from(&self, board: &BoardId, from: ForkedFrom) -> Result<(), StoreError> {
        let keys = Keys::of(board);
        redis::pipe()
            .atomic()
            .hset_nx(&keys.record, "created_ms", now_ms())
            .ignore()
            .hset(
                &keys.record,
                "forked_from",
                serde_json::to_vec(&from).expect("a fork origin serializes"),
            )
            .ignore()
            .zadd(BOARDS_KEY, board.as_str(), 0)
            .ignore()
            .query_async::<()>(&mut self.conn())
            .await
            .map_err(backend)
    }

    async fn list(
        &self,
        after: Option<&BoardId>,
        limit: usize,
    ) -> Result<Vec<(BoardId, BoardRecord)>, StoreError> {
        let start = after.map_or_else(|| "-".to_owned(), |id| format!("({id}"));
        let ids: Vec<String> = redis::cmd("ZRANGEBYLEX")
            .arg(BOARDS_KEY)
            .arg(start)
            .arg("+")
            .arg("LIMIT")
            .arg(0)
            .arg(limit)
            .query_async(&mut self.conn())
            .await
            .map_err(backend)?;
        let ids: Vec<BoardId> = ids
            .iter()
            .filter_map(|id| BoardId::parse(id).ok())
            .collect();
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut pipe = redis::pipe();
        for id in &ids {
            pipe.hgetall(Keys::of(id).record);
        }
        let records: Vec<HashMap<String, Vec<u8>>> =
            pipe.query_async(&mut self.conn()).await.map_err(backend)?;
        ids.into_iter()
            .zip(records)
            // A board deleted between the two reads is gone.
            .filter(|(_, fields)| fields.contains_key("created_ms"))
            .map(|(id, fields)| Self::record_of(&id, fields).map(|record| (id, record)))
            .collect()
    }

    async fn delete(&self, board: &BoardId) -> Result<(), StoreError> {
        let keys = Keys::of(board);
        let mut invocation = DELETE.prepare_invoke();
        invocation
            .key(&keys.record)
            .key(BOARDS_KEY)
            .key(&keys.seq)
            .key(&keys.deleted)
            .key(&keys.log)
            .key(&keys.checkpoints)
            .key(&keys.checkpoint_data)
            .key(&keys.authors)
            .key(&keys.author_index)
            .key(&keys.milestones)
            .key(&keys.trimmed)
            .key(&keys.here)
            .arg(board.as_str())
            .arg(self.node_name());
        let at: LogSeq = self.invoke(&invocation).await.map_err(backend)?;
        tracing::debug!(board = %board, at, "board deleted; tombstone left for its followers");
        Ok(())
    }

    async fn flush(&self) -> Result<(), StoreError> {
        // Every write was acknowledged by a Redis that fsyncs before it answers.
        Ok(())
    }

    async fn follower(
        &self,
        board: &BoardId,
    ) -> Result<Option<Box<dyn super::Follower>>, StoreError> {
        let conn = connect(&self.client).await?;
        Ok(Some(Box::new(StreamFollower {
            client: self.client.clone(),
            conn: Some(conn),
            board: board.clone(),
            log: Keys::of(board).log,
            node: self.node_name(),
        })))
    }

    async fn presence(&self, board: &BoardId) -> Result<Option<super::PresenceLink>, StoreError> {
        use super::Heard;
        use futures_util::StreamExt as _;
        let channel = Keys::of(board).presence;
        let pubsub = subscribe(&self.client, &channel).await?;
        let (incoming_tx, incoming) = tokio::sync::mpsc::channel::<Heard>(PRESENCE_QUEUE);
        let (outgoing, mut outgoing_rx) = tokio::sync::mpsc::channel::<Vec<u8>>(PRESENCE_QUEUE);
        let node = self.node;
        // Other servers' messages in, subscribing again whenever the subscription is lost (Redis
        // restarted); stops when the room drops its end.
        let (client, subscribed) = (self.client.clone(), channel.clone());
        tokio::spawn(async move {
            let mut pubsub = Some(pubsub);
            loop {
                let Some(current) = pubsub.take() else {
                    tokio::select! {
                        _ = incoming_tx.closed() => return,
                        _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                    }
                    match subscribe(&client, &subscribed).await {
                        Ok(again) => {
                            tracing::info!("presence subscription back");
                            pubsub = Some(again);
                            if incoming_tx.send(Heard::Resumed).await.is_err() {
                                return;
                            }
                        }
                        Err(error) => tracing::debug!(%error, "presence subscription still lost"),
                    }
                    continue;
                };
                let mut messages = current.into_on_message();
                loop {
                    tokio::select! {
                        _ = incoming_tx.closed() => return,
                        message = messages.next() => {
                            let Some(message) = message else { break };
                            let payload = message.get_payload_bytes();
                            // Skip our own messages, and any that are not ours at all.
                            let Some((from, frame)) = payload.split_at_checked(node.len()) else {
                                continue;
                            };
                            if from == node {
                                continue;
                            }
                            let node = u64::from_be_bytes(from.try_into().expect("8 bytes"));
                            let heard = Heard::Message { node, frame: frame.to_vec() };
                            if incoming_tx.send(heard).await.is_err() {
                                return;
                            }
                        }
                    }
                }
                tracing::warn!("presence subscription lost; subscribing again");
            }
        });
        // This server's messages out, in order; stops when the room drops its end.
        let mut conn = self.conn();
        tokio::spawn(async move {
            while let Some(frame) = outgoing_rx.recv().await {
                let mut message = node.to_vec();
                message.extend_from_slice(&frame);
                if let Err(error) = conn.publish::<_, _, ()>(&channel, message).await {
                    tracing::warn!(%error, "publishing presence failed");
                }
            }
        });
        Ok(Some(super::PresenceLink { outgoing, incoming }))
    }

    async fn claim_checkpoint(&self, board: &BoardId) -> Result<bool, StoreError> {
        let mut invocation = CLAIM.prepare_invoke();
        invocation
            .key(Keys::of(board).lease)
            .arg(self.node_name())
            .arg(CHECKPOINT_LEASE.as_millis() as u64);
        let granted: i64 = self.invoke(&invocation).await.map_err(backend)?;
        Ok(granted == 1)
    }

    async fn count_participants(&self, board: &BoardId, here: usize) -> Result<(), StoreError> {
        let now = now_ms();
        let mut invocation = COUNT_PARTICIPANTS.prepare_invoke();
        invocation
            .key(Keys::of(board).here)
            .arg(self.node_name())
            .arg(here)
            .arg(now)
            .arg(now + HERE_TTL.as_millis() as u64);
        self.invoke::<i64>(&invocation).await.map_err(backend)?;
        Ok(())
    }

    async fn share_summary(
        &self,
        board: &BoardId,
        summary: &BoardSummary,
    ) -> Result<(), StoreError> {
        let summary = serde_json::to_vec(summary).expect("a summary serializes");
        let mut invocation = SHARE_SUMMARY.prepare_invoke();
        invocation.key(Keys::of(board).record).arg(summary);
        self.invoke::<i64>(&invocation).await.map_err(backend)?;
        Ok(())
    }

    async fn participants_elsewhere(&self, boards: &[BoardId]) -> Result<Vec<usize>, StoreError> {
        let mut pipe = redis::pipe();
        for board in boards {
            pipe.hgetall(Keys::of(board).here);
        }
        let counts: Vec<HashMap<String, String>> =
            pipe.query_async(&mut self.conn()).await.map_err(backend)?;
        let (me, now) = (self.node_name(), now_ms());
        Ok(counts
            .iter()
            .map(|servers| {
                servers
                    .iter()
                    .filter(|(server, _)| **server != me)
                    .filter_map(|(_, value)| {
                        let (count, expires) = value.split_once(' ')?;
                        let expires: u64 = expires.parse().ok()?;
                        (expires >= now)
                            .then(|| count.parse::<usize>().ok())
                            .flatten()
                    })
                    .sum()
            })
            .collect())
    }

    async fn health(&self) -> Result<(), StoreError> {
        let (mut conn, ping) = (self.conn(), redis::cmd("PING"));
        match tokio::time::timeout(HEALTH_TIMEOUT, ping.query_async::<String>(&mut conn)).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(error)) => Err(backend(error)),
            Err(_) => Err(StoreError::Backend(
                format!("Redis did not answer PING within {HEALTH_TIMEOUT:?}").into(),
            )),
        }
    }

    async fn log(&self, board: &BoardId, query: LogQuery) -> Result<Vec<LogRecord>, StoreError> {
        let keys = Keys::of(board);
        let start = query
            .after
            .map_or_else(|| "-".to_owned(), |seq| format!("{}-0", seq + 1));
        let end = query
            .through
            .map_or_else(|| "+".to_owned(), |seq| format!("{seq}-0"));
        let mut range = if query.newest_first {
            let mut cmd = redis::cmd("XREVRANGE");
            cmd.arg(&keys.log).arg(&end).arg(&start);
            cmd
        } else {
            let mut cmd = redis::cmd("XRANGE");
            cmd.arg(&keys.log).arg(&start).arg(&end);
            cmd
        };
        if query.limit > 0 {
            range.arg("COUNT").arg(query.limit);
        }
        let (entries, authors): (Vec<(String, HashMap<String, Vec<u8>>)>, Vec<Vec<u8>>) =
            redis::pipe()
                .add_command(range)
                .lrange(&keys.authors, 0, -1)
                .query_async(&mut self.conn())
                .await
                .map_err(backend)?;
        let authors: Vec<Author> = authors
            .iter()
            .map(|raw| serde_json::from_slice(raw).map_err(|e| corrupt(board, &keys.authors, e)))
            .collect::<Result<_, _>>()?;
        entries
            .into_iter()
            // A deletion's tombstone is no version of the board (it comes before them all).
            .filter(|(_, fields)| !fields.contains_key("d"))
            .map(|(id, mut fields)| {
                let seq = seq_of_id(board, &id)?;
                let update = fields
                    .remove("u")
                    .ok_or_else(|| corrupt(board, format!("{}/{id}", keys.log), "no update"))?;
                let info = fields.get("i").map(Vec::as_slice);
                let meta = record::meta_of(board, info, update.len() as u64, &authors);
                Ok(LogRecord {
                    seq,
                    meta,
                    update: query.with_updates.then_some(update),
                })
            })
            .collect()
    }

    async fn checkpoints(&self, board: &BoardId) -> Result<Vec<LogSeq>, StoreError> {
        let keys = Keys::of(board);
        let seqs: Vec<String> = self
            .conn()
            .zrange(&keys.checkpoints, 0, -1)
            .await
            .map_err(backend)?;
        seqs.iter()
            .map(|s| {
                s.parse()
                    .map_err(|_| corrupt(board, &keys.checkpoints, "position is not a number"))
            })
            .collect()
    }

    async fn remove_checkpoint(&self, board: &BoardId, at: LogSeq) -> Result<(), StoreError> {
        let keys = Keys::of(board);
        let mut invocation = REMOVE_CHECKPOINT.prepare_invoke();
        invocation
            .key(&keys.checkpoints)
            .key(&keys.checkpoint_data)
            .arg(at);
        self.invoke::<i64>(&invocation).await.map_err(backend)?;
        Ok(())
    }

    async fn summarize(
        &self,
        _board: &BoardId,
        _seqs: &[LogSeq],
        _merged: Vec<u8>,
        _meta: UpdateMeta,
    ) -> Result<(), StoreError> {
        // A stream's entries keep their ids: a summary cannot take the place of the records it
        // merges without rewriting the stream after them, which followers would have to notice.
        Err(StoreError::Unsupported(
            "history thinning (retention) on Redis",
        ))
    }

    async fn milestones(&self, board: &BoardId) -> Result<Vec<Milestone>, StoreError> {
        let keys = Keys::of(board);
        let raw: Vec<Vec<u8>> = self.conn().hvals(&keys.milestones).await.map_err(backend)?;
        let mut milestones: Vec<Milestone> = raw
            .iter()
            .map(|m| serde_json::from_slice(m).map_err(|e| corrupt(board, &keys.milestones, e)))
            .collect::<Result<_, _>>()?;
        milestones.sort_by_key(|m| (m.seq, m.created_ms));
        Ok(milestones)
    }

    async fn put_milestone(
        &self,
        board: &BoardId,
        milestone: &Milestone,
    ) -> Result<(), StoreError> {
        self.conn()
            .hset::<_, _, _, ()>(
                Keys::of(board).milestones,
                &milestone.id,
                serde_json::to_vec(milestone).expect("a milestone serializes"),
            )
            .await
            .map_err(backend)
    }

    async fn remove_milestone(&self, board: &BoardId, id: &str) -> Result<bool, StoreError> {
        let removed: i64 = self
            .conn()
            .hdel(Keys::of(board).milestones, id)
            .await
            .map_err(backend)?;
        Ok(removed > 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_of_a_board_shares_its_hash_tag() {
        let keys = Keys::of(&BoardId::parse("q3-onboarding").unwrap());
        assert_eq!(keys.log, "parcours:board:{q3-onboarding}:log");
        for key in [&keys.seq, &keys.record, &keys.checkpoints, &keys.milestones] {
            assert!(key.starts_with("parcours:board:{q3-onboarding}:"), "{key}");
        }
    }

    #[test]
    fn a_logged_url_has_no_password() {
        assert_eq!(
            redacted("redis://:secret@10.0.0.1:6379/0"),
            "redis://…@10.0.0.1:6379/0"
        );
        assert_eq!(redacted("redis://127.0.0.1:6379"), "redis://127.0.0.1:6379");
    }
}
