//! The operations of `bext.shared` and their replies, as the stores run
//! them, and the store trait.

use crate::shared::SHARED_MAX_KEY_BYTES;
use std::time::Instant;

/// A stored value: what `bext.shared` accepts from a script.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum SharedValue {
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(Vec<u8>),
}

impl SharedValue {
    /// Bytes counted against the dictionary's limit.
    pub(crate) fn bytes(&self) -> usize {
        match self {
            SharedValue::Bool(_) => 1,
            SharedValue::Int(_) | SharedValue::Float(_) => 8,
            SharedValue::Str(s) => s.len(),
        }
    }
}

/// A number argument of `incr`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Number {
    Int(i64),
    Float(f64),
}

impl Number {
    /// `self + by` as Lua computes it: integers wrap, a float makes a float.
    pub(crate) fn add(self, by: Number) -> Number {
        match (self, by) {
            (Number::Int(a), Number::Int(b)) => Number::Int(a.wrapping_add(b)),
            (a, b) => Number::Float(a.as_f64() + b.as_f64()),
        }
    }

    fn as_f64(self) -> f64 {
        match self {
            Number::Int(i) => i as f64,
            Number::Float(f) => f,
        }
    }

    pub(crate) fn into_value(self) -> SharedValue {
        match self {
            Number::Int(i) => SharedValue::Int(i),
            Number::Float(f) => SharedValue::Float(f),
        }
    }
}

/// How a write treats an existing key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SetMode {
    /// `set`: always.
    Always,
    /// `add`: only if the key is absent (or expired).
    IfAbsent,
    /// `replace`: only if the key is present.
    IfPresent,
}

/// One `bext.shared` operation, decoded from the guest's request.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum SharedOp {
    Get {
        key: Vec<u8>,
    },
    /// `value: None` (a nil value) deletes, as in OpenResty.
    Set {
        key: Vec<u8>,
        value: Option<SharedValue>,
        ttl_ms: u64,
        mode: SetMode,
    },
    Incr {
        key: Vec<u8>,
        by: Number,
        init: Option<Number>,
        init_ttl_ms: u64,
    },
    Delete {
        key: Vec<u8>,
    },
    Ttl {
        key: Vec<u8>,
    },
    Expire {
        key: Vec<u8>,
        ttl_ms: u64,
    },
    Keys {
        limit: usize,
    },
    FlushExpired {
        max: usize,
    },
    FlushAll,
}

impl SharedOp {
    /// The script-facing name of the operation.
    #[cfg_attr(not(feature = "redis"), allow(dead_code))] // names Redis failures
    pub(crate) fn op_name(&self) -> &'static str {
        match self {
            SharedOp::Get { .. } => "get",
            SharedOp::Set {
                mode: SetMode::Always,
                ..
            } => "set",
            SharedOp::Set {
                mode: SetMode::IfAbsent,
                ..
            } => "add",
            SharedOp::Set {
                mode: SetMode::IfPresent,
                ..
            } => "replace",
            SharedOp::Incr { .. } => "incr",
            SharedOp::Delete { .. } => "delete",
            SharedOp::Ttl { .. } => "ttl",
            SharedOp::Expire { .. } => "expire",
            SharedOp::Keys { .. } => "keys",
            SharedOp::FlushExpired { .. } => "flush_expired",
            SharedOp::FlushAll => "flush_all",
        }
    }

    /// The key the operation names, if any.
    pub(crate) fn key(&self) -> Option<&[u8]> {
        match self {
            SharedOp::Get { key }
            | SharedOp::Set { key, .. }
            | SharedOp::Incr { key, .. }
            | SharedOp::Delete { key }
            | SharedOp::Ttl { key }
            | SharedOp::Expire { key, .. } => Some(key),
            SharedOp::Keys { .. } | SharedOp::FlushExpired { .. } | SharedOp::FlushAll => None,
        }
    }

    /// The reply for a key that is empty or too long, as OpenResty answers
    /// it (`nil, err` or `false, err, false`), or `None` when the key is fine.
    pub(crate) fn bad_key_reply(&self) -> Option<Reply> {
        let key = self.key()?;
        let err = if key.is_empty() {
            "empty key"
        } else if key.len() > SHARED_MAX_KEY_BYTES {
            "key too long"
        } else {
            return None;
        };
        Some(match self {
            SharedOp::Set { .. } => Reply::write(false, Some(err), false),
            SharedOp::Delete { .. } => Reply::default(),
            _ => Reply::failed(err),
        })
    }
}

/// The values an operation returns to the script, in order.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Reply {
    pub(crate) values: Vec<Option<SharedValue>>,
    /// Entries the operation visited beyond its own key (`keys`,
    /// `flush_expired`, evictions), for the fuel it is charged.
    pub(crate) entries_visited: usize,
}

impl Reply {
    pub(crate) fn one(value: Option<SharedValue>) -> Reply {
        Reply {
            values: vec![value],
            entries_visited: 0,
        }
    }

    /// `nil, err`.
    pub(crate) fn failed(err: &str) -> Reply {
        Reply {
            values: vec![None, Some(SharedValue::Str(err.into()))],
            entries_visited: 0,
        }
    }

    /// A write's `ok, err, forcible`.
    pub(crate) fn write(ok: bool, err: Option<&str>, forcible: bool) -> Reply {
        Reply {
            values: vec![
                Some(SharedValue::Bool(ok)),
                err.map(|e| SharedValue::Str(e.into())),
                Some(SharedValue::Bool(forcible)),
            ],
            entries_visited: 0,
        }
    }

    /// `incr`'s `value, nil, forcible`.
    pub(crate) fn incremented(value: Number, forcible: bool) -> Reply {
        Reply {
            values: vec![
                Some(value.into_value()),
                None,
                Some(SharedValue::Bool(forcible)),
            ],
            entries_visited: 0,
        }
    }

    /// `keys`: one string per key (the shim packs them into a table).
    pub(crate) fn keys(keys: Vec<Vec<u8>>) -> Reply {
        let entries_visited = keys.len();
        Reply {
            values: keys
                .into_iter()
                .map(|k| Some(SharedValue::Str(k)))
                .collect(),
            entries_visited,
        }
    }
}

/// Why a shared-dictionary operation did not produce a reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SharedFailure {
    /// The script's call raises this message (bad arguments, a backend that
    /// is unavailable and configured to fail closed).
    Raise(String),
    /// The call's deadline passed while waiting on the backend.
    #[cfg_attr(not(feature = "redis"), allow(dead_code))] // only a remote backend waits
    Deadline,
}

/// Where one plugin's dictionary lives.
pub(crate) trait SharedStore: Send + Sync {
    /// Runs `op`. `deadline` is when the calling method's wall-clock budget
    /// ends; a store that waits on the network must not wait past it.
    fn execute(&self, op: &SharedOp, deadline: Option<Instant>) -> Result<Reply, SharedFailure>;
}
