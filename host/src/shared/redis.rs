//! The Redis backend of `bext.shared` (cargo feature `redis`): the same
//! operations and return values as the in-process dictionary, on a Redis
//! server that every runtime of a fleet shares.
//!
//! * **Atomicity**: each operation is one Redis command or one server-side
//!   script (`incr` reads, initialises with its TTL and increments inside
//!   one `EVAL`), so concurrent runtimes never lose an update.
//! * **Namespaces**: a plugin's keys are `{prefix}{len(name)}:{name}:{key}`;
//!   the length makes names that contain `:` unambiguous, so no plugin can
//!   name another plugin's keys.
//! * **Values** keep their Lua type: integers are stored as plain decimal
//!   text (so `INCRBY` works on them), floats as `f` + text, strings as `s` +
//!   bytes, booleans as `b0`/`b1`. Keys written by anything else read as an
//!   error.
//! * **Deadline**: every command waits at most
//!   [`RedisShared::op_timeout_ms`] and never past the calling method's
//!   deadline ([`LuaSandboxLimits::timeout_ms`](crate::LuaSandboxLimits::timeout_ms)):
//!   reaching the deadline stops the method with
//!   [`Error::Timeout`](crate::Error::Timeout), like a script that ran too long.
//! * **Redis down** (refused, dropped, timed out before the deadline): the
//!   embedder chooses with [`RedisUnavailable`]; the server is not asked
//!   again for [`RedisShared::retry_after_ms`], so an outage does not add a
//!   connect timeout to every call.
//! * **TLS and credentials**: `rediss://` URLs speak TLS only (rustls with
//!   the `ring` provider, no OpenSSL), verified against the system's trust
//!   store or the CA given with [`RedisShared::with_tls`]; a user and
//!   password in the URL (`rediss://user:password@host:6380/0`) log in as
//!   an ACL user (`AUTH user password`). A failed handshake (a wrong CA, a
//!   plain-text server behind a `rediss://` URL) or refused credentials is
//!   a connection that cannot be made: it takes the [`RedisUnavailable`]
//!   path with the cause in the log and in the fail-closed error, and is
//!   retried after [`RedisShared::retry_after_ms`]. Nothing is sent in
//!   clear text to a `rediss://` URL.
//! * **Memory**: Redis bounds its own (`maxmemory`); `forcible` is always
//!   false and [`LuaSandboxLimits::shared_dict_bytes`](crate::LuaSandboxLimits::shared_dict_bytes)
//!   applies only to the local fallback. `flush_expired` returns 0: Redis
//!   expires keys itself.

use crate::error::{Cause, Error};
use crate::shared::local::LocalDict;
use crate::shared::op::{
    Number, Reply, SetMode, SharedFailure, SharedOp, SharedStore, SharedValue,
};
use redis::{Client, Connection, IntoConnectionInfo, RedisError, Script};
use std::sync::{Arc, LazyLock, Mutex};
use std::time::{Duration, Instant};

/// What `bext.shared` does while Redis is unreachable.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum RedisUnavailable {
    /// Fail open: operations go to the plugin's in-process dictionary, so
    /// scripts keep working with per-node state (a fleet-wide rate limit
    /// becomes a per-node one) until Redis answers again. The default, as
    /// Kong's `fault_tolerant` rate limiting.
    #[default]
    FailOpen,
    /// Fail closed: every operation raises a Lua error
    /// (`bext.shared:incr: redis unavailable: ...`), which fails the method
    /// unless the script catches it with `pcall` and decides.
    FailClosed,
}

/// A Redis server for `bext.shared` ([`SharedBackend::Redis`](crate::SharedBackend::Redis)):
/// one connection pool, shared by every plugin that uses it. Cheap to clone.
#[derive(Clone)]
pub struct RedisShared {
    inner: Arc<RedisInner>,
}

struct RedisInner {
    client: Client,
    url: String,
    key_prefix: String,
    op_timeout: Duration,
    retry_after: Duration,
    on_unavailable: RedisUnavailable,
    idle: Mutex<Vec<Connection>>,
    /// Set after a connection failure, with its cause: until then, calls
    /// take the fallback.
    down_until: Mutex<Option<(Instant, String)>>,
}

impl std::fmt::Debug for RedisShared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisShared")
            .field("url", &self.inner.url)
            .field("key_prefix", &self.inner.key_prefix)
            .field("op_timeout_ms", &self.inner.op_timeout.as_millis())
            .field("retry_after_ms", &self.inner.retry_after.as_millis())
            .field("on_unavailable", &self.inner.on_unavailable)
            .finish()
    }
}

/// Connections kept open for reuse.
const MAX_IDLE_CONNECTIONS: usize = 32;

/// The TLS settings of a `rediss://` server ([`RedisShared::with_tls`]):
/// the CA that signs its certificate and, for a server that requires one
/// (`tls-auth-clients yes`), the client certificate to show.
///
/// Defaults ([`RedisTls::new`]): the system's trust store, no client
/// certificate. Verification cannot be turned off (the `#insecure` URL
/// fragment is refused).
#[derive(Clone, Default)]
pub struct RedisTls {
    ca_pem: Option<Vec<u8>>,
    client_identity: Option<(Vec<u8>, Vec<u8>)>,
}

impl std::fmt::Debug for RedisTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the key.
        f.debug_struct("RedisTls")
            .field("custom_ca", &self.ca_pem.is_some())
            .field("client_certificate", &self.client_identity.is_some())
            .finish()
    }
}

impl RedisTls {
    /// The defaults: the system's trust store, no client certificate.
    pub fn new() -> Self {
        Self::default()
    }

    /// Trusts these CA certificates (PEM), and only them, to sign the
    /// server's certificate. Default: the system's trust store.
    pub fn ca_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.ca_pem = Some(pem.into());
        self
    }

    /// Shows this client certificate (PEM, leaf first) with its private
    /// key (PEM). Default: none.
    pub fn client_identity_pem(
        mut self,
        cert_pem: impl Into<Vec<u8>>,
        key_pem: impl Into<Vec<u8>>,
    ) -> Self {
        self.client_identity = Some((cert_pem.into(), key_pem.into()));
        self
    }
}

impl RedisTls {
    /// PEM that holds what it should, so a wrong file is an error when the
    /// backend is built rather than a handshake that fails at every call.
    fn check(&self) -> Result<(), String> {
        use rustls::pki_types::pem::PemObject;
        use rustls::pki_types::{CertificateDer, PrivateKeyDer};
        let certificates = |pem: &[u8], what: &str| match CertificateDer::pem_slice_iter(pem)
            .collect::<Result<Vec<_>, _>>()
        {
            Ok(list) if !list.is_empty() => Ok(()),
            Ok(_) => Err(format!("{what}: no `BEGIN CERTIFICATE` block in the PEM")),
            Err(e) => Err(format!("{what}: not PEM certificates: {e}")),
        };
        if let Some(ca) = &self.ca_pem {
            certificates(ca, "the CA")?;
        }
        if let Some((cert, key)) = &self.client_identity {
            certificates(cert, "the client certificate")?;
            PrivateKeyDer::from_pem_slice(key)
                .map_err(|e| format!("the client key: not a PEM private key: {e}"))?;
        }
        Ok(())
    }
}

fn url_error(url: &str, e: RedisError) -> Error {
    Error::SharedBackend {
        message: format!("redis url `{}`: {e}", redacted(url)),
        source: Cause::new(e),
    }
}

/// `url` without its password, for messages and logs.
fn redacted(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

/// redis's rustls configuration asks for the process's default crypto
/// provider; when nothing installed one, install ring's (the provider this
/// crate builds rustls with), so that a process whose rustls also has
/// another provider compiled in does not panic at the first handshake.
fn ensure_crypto_provider() {
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        // rustls 0.23.48 deprecates ring's provider (no post-quantum key
        // exchange); ring builds with a C compiler alone (aws-lc-sys needs
        // cmake). A concurrent install by someone else wins: either is fine.
        #[allow(deprecated)]
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
}

impl RedisShared {
    /// The server at `url`: `redis://[user:password@]host:port/db`, or
    /// `rediss://...` for TLS verified against the system's trust store
    /// ([`with_tls`](Self::with_tls) for a private CA or a client
    /// certificate). A user and password log in as that ACL user; a
    /// password alone as the `default` user. Connects lazily, on the first
    /// operation. Defaults: key prefix `bext:shared:`, operation timeout
    /// 100 ms, retry after 1000 ms, [`RedisUnavailable::FailOpen`].
    pub fn new(url: &str) -> Result<RedisShared, Error> {
        if url.starts_with("rediss://") {
            ensure_crypto_provider();
        }
        let client = Client::open(url).map_err(|e| url_error(url, e))?;
        Ok(Self::from_client(client, url))
    }

    /// The `rediss://` server at `url`, verified as `tls` says. A
    /// `redis://` URL is an error ([`Error::SharedBackend`]), as is PEM
    /// that holds no certificate or key.
    pub fn with_tls(url: &str, tls: RedisTls) -> Result<RedisShared, Error> {
        if !url.starts_with("rediss://") {
            return Err(Error::SharedBackend {
                message: format!(
                    "redis url `{}`: TLS settings need a rediss:// URL",
                    redacted(url)
                ),
                source: Cause::new(std::io::Error::other("not a rediss:// URL")),
            });
        }
        ensure_crypto_provider();
        tls.check().map_err(|message| Error::SharedBackend {
            message: format!("redis url `{}`: {message}", redacted(url)),
            source: Cause::new(std::io::Error::other(message.clone())),
        })?;
        let info = url.into_connection_info().map_err(|e| url_error(url, e))?;
        let certificates = redis::TlsCertificates {
            client_tls: tls.client_identity.map(|(client_cert, client_key)| {
                redis::ClientTlsConfig {
                    client_cert,
                    client_key,
                }
            }),
            root_cert: tls.ca_pem,
        };
        let client = Client::build_with_tls(info, certificates).map_err(|e| url_error(url, e))?;
        Ok(Self::from_client(client, url))
    }

    fn from_client(client: Client, url: &str) -> RedisShared {
        RedisShared {
            inner: Arc::new(RedisInner {
                client,
                url: redacted(url),
                key_prefix: "bext:shared:".into(),
                op_timeout: Duration::from_millis(100),
                retry_after: Duration::from_millis(1000),
                on_unavailable: RedisUnavailable::default(),
                idle: Mutex::new(Vec::new()),
                down_until: Mutex::new(None),
            }),
        }
    }

    fn with(self, change: impl FnOnce(&mut RedisInner)) -> RedisShared {
        let mut inner = Arc::try_unwrap(self.inner).unwrap_or_else(|shared| RedisInner {
            client: shared.client.clone(),
            url: shared.url.clone(),
            key_prefix: shared.key_prefix.clone(),
            op_timeout: shared.op_timeout,
            retry_after: shared.retry_after,
            on_unavailable: shared.on_unavailable,
            idle: Mutex::new(Vec::new()),
            down_until: Mutex::new(None),
        });
        change(&mut inner);
        RedisShared {
            inner: Arc::new(inner),
        }
    }

    /// Prefix of every key this backend writes, so several deployments can
    /// share one server. Default: `bext:shared:`.
    pub fn key_prefix(self, prefix: impl Into<String>) -> RedisShared {
        let prefix = prefix.into();
        self.with(|inner| inner.key_prefix = prefix)
    }

    /// Longest wait for one Redis command in milliseconds (at least 1),
    /// further capped by the calling method's deadline. Default: 100 ms.
    pub fn op_timeout_ms(self, ms: u64) -> RedisShared {
        self.with(|inner| inner.op_timeout = Duration::from_millis(ms.max(1)))
    }

    /// After a connection failure, how long calls take the
    /// [`RedisUnavailable`] path without asking Redis, in milliseconds.
    /// Default: 1000 ms.
    pub fn retry_after_ms(self, ms: u64) -> RedisShared {
        self.with(|inner| inner.retry_after = Duration::from_millis(ms))
    }

    /// What operations do while Redis is unreachable. Default:
    /// [`RedisUnavailable::FailOpen`].
    pub fn on_unavailable(self, policy: RedisUnavailable) -> RedisShared {
        self.with(|inner| inner.on_unavailable = policy)
    }

    /// The store of one plugin; `local` is its in-process dictionary, the
    /// fail-open fallback.
    pub(crate) fn store(&self, plugin: &str, local: Arc<LocalDict>) -> RedisDict {
        let namespace =
            format!("{}{}:{}:", self.inner.key_prefix, plugin.len(), plugin).into_bytes();
        RedisDict {
            redis: self.inner.clone(),
            namespace,
            local,
        }
    }
}

/// One plugin's `bext.shared` in Redis.
pub(crate) struct RedisDict {
    redis: Arc<RedisInner>,
    namespace: Vec<u8>,
    local: Arc<LocalDict>,
}

/// `incr`: KEYS[1]; ARGV = by (encoded), init (encoded, or empty), init_ttl_ms.
/// Integers go through INCRBY (exact 64-bit); anything with a float is
/// computed as a float and keeps the key's TTL.
const INCR_SCRIPT: &str = r#"
local key, by, init, ttl = KEYS[1], ARGV[1], ARGV[2], tonumber(ARGV[3])
local v = redis.call('GET', key)
if not v then
  if init == '' then return {'e', 'not found'} end
  v = init
  if ttl > 0 then redis.call('SET', key, v, 'PX', ttl) else redis.call('SET', key, v) end
end
local tag = string.sub(v, 1, 1)
if tag ~= 'f' and not string.find(v, '^%-?%d+$') then return {'e', 'not a number'} end
if tag ~= 'f' and string.sub(by, 1, 1) ~= 'f' then
  redis.call('INCRBY', key, by)
  return {'v', redis.call('GET', key)}
end
local current = tonumber(tag == 'f' and string.sub(v, 2) or v)
local step = tonumber(string.sub(by, 1, 1) == 'f' and string.sub(by, 2) or by)
local new = 'f' .. string.format('%.17g', current + step)
redis.call('SET', key, new, 'KEEPTTL')
return {'v', new}
"#;

static INCR: LazyLock<Script> = LazyLock::new(|| Script::new(INCR_SCRIPT));
static EXPIRE: LazyLock<Script> = LazyLock::new(|| Script::new(EXPIRE_SCRIPT));

/// `expire`: KEYS[1]; ARGV[1] = ttl_ms (0 = never expires). 0 when absent.
const EXPIRE_SCRIPT: &str = r#"
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
if tonumber(ARGV[1]) > 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) else redis.call('PERSIST', KEYS[1]) end
return 1
"#;

fn encode_value(value: &SharedValue) -> Vec<u8> {
    match value {
        SharedValue::Int(i) => i.to_string().into_bytes(),
        SharedValue::Float(f) => format!("f{f:?}").into_bytes(),
        SharedValue::Bool(b) => {
            if *b {
                b"b1".to_vec()
            } else {
                b"b0".to_vec()
            }
        }
        SharedValue::Str(s) => [b"s".as_slice(), s].concat(),
    }
}

fn encode_number(n: Number) -> Vec<u8> {
    match n {
        Number::Int(i) => encode_value(&SharedValue::Int(i)),
        Number::Float(f) => encode_value(&SharedValue::Float(f)),
    }
}

fn decode_value(bytes: &[u8]) -> Result<SharedValue, String> {
    let text = || std::str::from_utf8(&bytes[1..]).ok();
    let value = match bytes.first() {
        Some(b's') => Some(SharedValue::Str(bytes[1..].to_vec())),
        Some(b'b') => Some(SharedValue::Bool(&bytes[1..] == b"1")),
        Some(b'f') => text().and_then(|t| t.parse().ok()).map(SharedValue::Float),
        Some(b'-' | b'0'..=b'9') => std::str::from_utf8(bytes)
            .ok()
            .and_then(|t| t.parse().ok())
            .map(SharedValue::Int),
        _ => None,
    };
    value.ok_or_else(|| "the key holds a value bext.shared did not write".into())
}

/// Whether `err` means Redis could not be reached or will not serve this
/// client at all (`NOAUTH`: a server that requires a password the URL does
/// not give), as opposed to a command Redis answered with an error.
fn is_unreachable(err: &RedisError) -> bool {
    err.is_io_error()
        || err.is_timeout()
        || err.is_connection_refusal()
        || err.is_connection_dropped()
        || err.code() == Some("NOAUTH")
}

impl SharedStore for RedisDict {
    fn execute(&self, op: &SharedOp, deadline: Option<Instant>) -> Result<Reply, SharedFailure> {
        if let Some(reply) = op.bad_key_reply() {
            return Ok(reply);
        }
        let now = Instant::now();
        let down = self
            .redis
            .down_until
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        if let Some((until, cause)) = down
            && now < until
        {
            return self.unavailable(op, &format!("{cause} (not retried until retry_after_ms)"));
        }
        let mut budget = self.redis.op_timeout;
        if let Some(deadline) = deadline {
            let left = deadline.saturating_duration_since(now);
            if left.is_zero() {
                return Err(SharedFailure::Deadline);
            }
            budget = budget.min(left);
        }
        match self.run(op, budget, deadline) {
            Ok(reply) => Ok(reply),
            // A connection that cannot be made (refused, a failed TLS
            // handshake, refused credentials) or one that broke.
            Err(Failure::Connect(err)) => self.went_down(op, deadline, &err),
            Err(Failure::Redis(err)) if is_unreachable(&err) => self.went_down(op, deadline, &err),
            Err(Failure::Redis(err)) => Err(SharedFailure::Raise(format!(
                "bext.shared:{}: redis: {err}",
                op.op_name()
            ))),
            Err(Failure::Value(message)) => Err(SharedFailure::Raise(format!(
                "bext.shared:{}: {message}",
                op.op_name()
            ))),
            Err(Failure::Deadline) => Err(SharedFailure::Deadline),
        }
    }
}

/// Why one Redis round failed.
enum Failure {
    /// No connection could be made.
    Connect(RedisError),
    Redis(RedisError),
    Value(String),
    Deadline,
}

impl From<RedisError> for Failure {
    fn from(err: RedisError) -> Self {
        Failure::Redis(err)
    }
}

impl RedisDict {
    /// Redis could not be used: take the [`RedisUnavailable`] path, and
    /// do not ask again for `retry_after`.
    fn went_down(
        &self,
        op: &SharedOp,
        deadline: Option<Instant>,
        err: &RedisError,
    ) -> Result<Reply, SharedFailure> {
        if deadline.is_some_and(|d| Instant::now() >= d) {
            return Err(SharedFailure::Deadline);
        }
        let until = Instant::now() + self.redis.retry_after;
        *self
            .redis
            .down_until
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = Some((until, err.to_string()));
        tracing::warn!(target: "bext_lua::shared", url = %self.redis.url, "redis unavailable: {err}");
        self.unavailable(op, &err.to_string())
    }

    fn unavailable(&self, op: &SharedOp, why: &str) -> Result<Reply, SharedFailure> {
        match self.redis.on_unavailable {
            RedisUnavailable::FailOpen => Ok(self.local.execute_at(op, Instant::now())),
            RedisUnavailable::FailClosed => Err(SharedFailure::Raise(format!(
                "bext.shared:{}: redis unavailable: {why}",
                op.op_name()
            ))),
        }
    }

    fn key(&self, key: &[u8]) -> Vec<u8> {
        [self.namespace.as_slice(), key].concat()
    }

    /// Runs `op` on a pooled connection whose timeouts are `budget`.
    fn run(
        &self,
        op: &SharedOp,
        budget: Duration,
        deadline: Option<Instant>,
    ) -> Result<Reply, Failure> {
        let pooled = self
            .redis
            .idle
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .pop();
        let mut con = match pooled {
            Some(con) => con,
            None => self
                .redis
                .client
                .get_connection_with_timeout(budget)
                .map_err(Failure::Connect)?,
        };
        con.set_read_timeout(Some(budget))?;
        con.set_write_timeout(Some(budget))?;
        let reply = self.run_on(&mut con, op, deadline)?;
        let mut idle = self.redis.idle.lock().unwrap_or_else(|e| e.into_inner());
        if idle.len() < MAX_IDLE_CONNECTIONS {
            idle.push(con);
        }
        Ok(reply)
    }

    fn run_on(
        &self,
        con: &mut Connection,
        op: &SharedOp,
        deadline: Option<Instant>,
    ) -> Result<Reply, Failure> {
        Ok(match op {
            SharedOp::Get { key } => {
                let raw: Option<Vec<u8>> = redis::cmd("GET").arg(self.key(key)).query(con)?;
                match raw {
                    None => Reply {
                        values: vec![None],
                        entries_visited: 0,
                    },
                    Some(raw) => Reply {
                        values: vec![Some(decode_value(&raw).map_err(Failure::Value)?)],
                        entries_visited: 0,
                    },
                }
            }
            SharedOp::Set {
                key, value: None, ..
            }
            | SharedOp::Delete { key } => {
                let _: i64 = redis::cmd("DEL").arg(self.key(key)).query(con)?;
                match op {
                    SharedOp::Delete { .. } => Reply::default(),
                    _ => Reply::write(true, None, false),
                }
            }
            SharedOp::Set {
                key,
                value: Some(value),
                ttl_ms,
                mode,
            } => {
                let mut cmd = redis::cmd("SET");
                cmd.arg(self.key(key)).arg(encode_value(value));
                if *ttl_ms > 0 {
                    cmd.arg("PX").arg(*ttl_ms);
                }
                match mode {
                    SetMode::Always => {}
                    SetMode::IfAbsent => {
                        cmd.arg("NX");
                    }
                    SetMode::IfPresent => {
                        cmd.arg("XX");
                    }
                }
                let done: Option<String> = cmd.query(con)?;
                match (done, mode) {
                    (Some(_), _) => Reply::write(true, None, false),
                    (None, SetMode::IfPresent) => Reply::write(false, Some("not found"), false),
                    (None, _) => Reply::write(false, Some("exists"), false),
                }
            }
            SharedOp::Incr {
                key,
                by,
                init,
                init_ttl_ms,
            } => {
                let (status, value): (String, Vec<u8>) = INCR
                    .key(self.key(key))
                    .arg(encode_number(*by))
                    .arg(init.map(encode_number).unwrap_or_default())
                    .arg(*init_ttl_ms)
                    .invoke(con)?;
                if status == "e" {
                    return Ok(Reply::failed(&String::from_utf8_lossy(&value)));
                }
                match decode_value(&value).map_err(Failure::Value)? {
                    SharedValue::Int(i) => Reply::incremented(Number::Int(i), false),
                    SharedValue::Float(f) => Reply::incremented(Number::Float(f), false),
                    _ => return Err(Failure::Value("incr produced a non-number".into())),
                }
            }
            SharedOp::Ttl { key } => {
                let ms: i64 = redis::cmd("PTTL").arg(self.key(key)).query(con)?;
                match ms {
                    -2 => Reply::failed("not found"),
                    -1 => Reply {
                        values: vec![Some(SharedValue::Int(0))],
                        entries_visited: 0,
                    },
                    ms => Reply {
                        values: vec![Some(SharedValue::Int(ms.max(1)))],
                        entries_visited: 0,
                    },
                }
            }
            SharedOp::Expire { key, ttl_ms } => {
                let found: i64 = EXPIRE.key(self.key(key)).arg(*ttl_ms).invoke(con)?;
                if found == 0 {
                    Reply::failed("not found")
                } else {
                    Reply {
                        values: vec![Some(SharedValue::Bool(true))],
                        entries_visited: 0,
                    }
                }
            }
            SharedOp::Keys { limit } => {
                let limit = if *limit == 0 { usize::MAX } else { *limit };
                let mut keys = Vec::new();
                self.scan(con, deadline, |batch| {
                    keys.extend(batch.into_iter().take(limit - keys.len()));
                    keys.len() < limit
                })?;
                let keys = keys
                    .into_iter()
                    .map(|k| k[self.namespace.len()..].to_vec())
                    .collect();
                Reply::keys(keys)
            }
            SharedOp::FlushExpired { .. } => Reply {
                values: vec![Some(SharedValue::Int(0))],
                entries_visited: 0,
            },
            SharedOp::FlushAll => {
                let mut found = Vec::new();
                self.scan(con, deadline, |batch| {
                    found.extend(batch);
                    true
                })?;
                for chunk in found.chunks(512) {
                    let _: i64 = redis::cmd("UNLINK").arg(chunk).query(con)?;
                }
                Reply {
                    values: Vec::new(),
                    entries_visited: found.len(),
                }
            }
        })
    }

    /// Calls `visit` with each batch of this plugin's keys (full Redis keys)
    /// until it returns false or the scan ends.
    fn scan(
        &self,
        con: &mut Connection,
        deadline: Option<Instant>,
        mut visit: impl FnMut(Vec<Vec<u8>>) -> bool,
    ) -> Result<(), Failure> {
        let mut pattern = Vec::with_capacity(self.namespace.len() + 1);
        for &b in &self.namespace {
            if matches!(b, b'*' | b'?' | b'[' | b']' | b'\\') {
                pattern.push(b'\\');
            }
            pattern.push(b);
        }
        pattern.push(b'*');
        let mut cursor: u64 = 0;
        loop {
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return Err(Failure::Deadline);
            }
            let (next, batch): (u64, Vec<Vec<u8>>) = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(&pattern)
                .arg("COUNT")
                .arg(256)
                .query(con)?;
            if !visit(batch) || next == 0 {
                return Ok(());
            }
            cursor = next;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_round_trip_with_their_type() {
        for value in [
            SharedValue::Int(-42),
            SharedValue::Int(i64::MAX),
            SharedValue::Float(0.1),
            SharedValue::Float(-1e300),
            SharedValue::Bool(true),
            SharedValue::Bool(false),
            SharedValue::Str(b"".to_vec()),
            SharedValue::Str(b"12".to_vec()),
        ] {
            assert_eq!(decode_value(&encode_value(&value)), Ok(value));
        }
        assert!(
            decode_value(b"hello").is_err(),
            "a key bext.shared did not write"
        );
    }

    #[test]
    fn passwords_never_reach_messages_or_logs() {
        assert_eq!(
            redacted("rediss://bext:s3cret@redis:6380/0"),
            "rediss://bext:***@redis:6380/0"
        );
        assert_eq!(redacted("redis://:s3cret@redis/"), "redis://:***@redis/");
        assert_eq!(redacted("redis://redis:6379/"), "redis://redis:6379/");
        let shared = RedisShared::new("rediss://bext:s3cret@127.0.0.1:1/").unwrap();
        assert!(!format!("{shared:?}").contains("s3cret"));
        match RedisShared::with_tls("redis://bext:s3cret@127.0.0.1:1/", RedisTls::new()) {
            Err(Error::SharedBackend { message, .. }) => {
                assert!(message.contains("rediss://") && !message.contains("s3cret"))
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn namespaces_of_names_with_colons_do_not_overlap() {
        let redis = RedisShared::new("redis://127.0.0.1:1/").unwrap();
        let a = redis.store("a:b", Arc::new(LocalDict::new(0)));
        let b = redis.store("a", Arc::new(LocalDict::new(0)));
        assert_ne!(a.key(b"c"), b.key(b"b:c"));
    }
}
