//! `bext.shared` across the guest boundary: the import's request decoded
//! into a [`SharedOp`] (in the call encoding of [`decode_args`], operation
//! codes from [`shared_op`]), run on the plugin's store, its fuel charged,
//! and the [`Reply`] encoded back for the shim. The stores themselves
//! (`shared/`) know nothing of guest memory.

use crate::config::limits::wasm_fuel;
use crate::guest::abi::{
    Arg, Output, decode_args, encode_args, guest_bytes, guest_bytes_mut, shared_op,
};
use crate::guest::state::HostState;
use crate::guest::traps::AbiViolation;
use crate::shared::op::{Number, Reply, SetMode, SharedFailure, SharedOp, SharedValue};
use crate::shared::{DEFAULT_KEYS_LIMIT, fuel_cost};
use wasmtime::{Caller, Trap};

/// `bext.shared(op, req, req_len, out, out_cap) -> i32`: runs one operation
/// on the plugin's store and charges its fuel (see [`fuel_cost`]).
pub(crate) fn shared_call(
    mut caller: Caller<'_, HostState>,
    code: i32,
    req: u32,
    req_len: u32,
    out: u32,
    out_cap: u32,
) -> wasmtime::Result<i32> {
    let memory = caller
        .data()
        .memory
        .ok_or_else(|| AbiViolation("host call before instantiation".into()))?;
    let op = decode_op(code, guest_bytes(memory.data(&caller), req, req_len)?);
    let state = caller.data();
    let result = match (op, &state.plugin.shared) {
        (Ok(op), Some(store)) => store.execute(&op, state.call_deadline),
        (Ok(_), None) => Err(SharedFailure::Raise(
            "bext.shared is not available here".into(),
        )),
        (Err(message), _) => Err(SharedFailure::Raise(message)),
    };
    let mut bytes = Vec::new();
    let (visited, is_error) = match result {
        Ok(reply) => {
            encode_reply(&reply, &mut bytes);
            (reply.entries_visited, false)
        }
        Err(SharedFailure::Raise(message)) => {
            bytes = message.into_bytes();
            (0, true)
        }
        Err(SharedFailure::Deadline) => return Err(Trap::Interrupt.into()),
    };
    // Fuel only exists when the runtime meters it.
    if let Ok(fuel) = caller.get_fuel() {
        let cost = wasm_fuel(fuel_cost(req_len as usize + bytes.len(), visited));
        if fuel < cost {
            caller.set_fuel(0)?;
            return Err(Trap::OutOfFuel.into());
        }
        caller.set_fuel(fuel - cost)?;
    }
    let len = i32::try_from(bytes.len())
        .map_err(|_| AbiViolation(format!("bext.shared reply of {} bytes", bytes.len())))?;
    if bytes.len() <= out_cap as usize {
        guest_bytes_mut(memory.data_mut(&mut caller), out, len as u32)?.copy_from_slice(&bytes);
    } else {
        caller.data_mut().shared_pending = bytes;
    }
    Ok(if is_error { -len - 1 } else { len })
}

/// The script-facing name of operation `code`, for error messages.
fn op_name(code: i32) -> &'static str {
    match code {
        shared_op::GET => "get",
        shared_op::SET => "set",
        shared_op::ADD => "add",
        shared_op::REPLACE => "replace",
        shared_op::INCR => "incr",
        shared_op::DELETE => "delete",
        shared_op::TTL => "ttl",
        shared_op::EXPIRE => "expire",
        shared_op::KEYS => "keys",
        shared_op::FLUSH_EXPIRED => "flush_expired",
        shared_op::FLUSH_ALL => "flush_all",
        _ => "?",
    }
}

/// Decodes operation `code` with its arguments (in the call encoding of
/// [`decode_args`]). `Err` is the message the script's call raises.
pub(crate) fn decode_op(code: i32, request: &[u8]) -> Result<SharedOp, String> {
    let name = op_name(code);
    let args = decode_args(request).map_err(|e| format!("bext.shared:{name}: {e}"))?;
    let arg = |i: usize| args.get(i).unwrap_or(&Output::Nil);
    let fail = |what: String| format!("bext.shared:{name}: {what}");
    let key = || match arg(0) {
        Output::Str(key) => Ok(key.clone()),
        other => Err(fail(format!(
            "the key must be a string, got {}",
            other.type_name()
        ))),
    };
    let ttl = |i: usize, what: &str| match arg(i) {
        Output::Nil => Ok(0),
        Output::Int(ms) if *ms >= 0 => Ok(*ms as u64),
        Output::Float(ms) if ms.is_finite() && *ms >= 0.0 => Ok(ms.ceil() as u64),
        other => Err(fail(format!(
            "{what} must be a number of milliseconds >= 0, got {}",
            describe(other)
        ))),
    };
    let number = |i: usize, what: &str, optional: bool| match arg(i) {
        Output::Nil if optional => Ok(None),
        Output::Int(n) => Ok(Some(Number::Int(*n))),
        Output::Float(f) => Ok(Some(Number::Float(*f))),
        other => Err(fail(format!(
            "{what} must be a number, got {}",
            other.type_name()
        ))),
    };
    let count = |i: usize, what: &str, default: usize| match arg(i) {
        Output::Nil => Ok(default),
        Output::Int(n) if *n >= 0 => Ok(usize::try_from(*n).unwrap_or(usize::MAX)),
        other => Err(fail(format!(
            "{what} must be an integer >= 0, got {}",
            describe(other)
        ))),
    };
    let write = |mode: SetMode| -> Result<SharedOp, String> {
        let value = match arg(1) {
            Output::Nil if mode == SetMode::Always => None,
            Output::Nil => return Err(fail("the value must not be nil".into())),
            Output::Bool(b) => Some(SharedValue::Bool(*b)),
            Output::Int(i) => Some(SharedValue::Int(*i)),
            Output::Float(f) => Some(SharedValue::Float(*f)),
            Output::Str(s) => Some(SharedValue::Str(s.clone())),
            other => {
                return Err(fail(format!(
                    "cannot store {} (strings, numbers and booleans only)",
                    other.type_name()
                )));
            }
        };
        Ok(SharedOp::Set {
            key: key()?,
            value,
            ttl_ms: ttl(2, "ttl_ms")?,
            mode,
        })
    };
    match code {
        shared_op::GET => Ok(SharedOp::Get { key: key()? }),
        shared_op::SET => write(SetMode::Always),
        shared_op::ADD => write(SetMode::IfAbsent),
        shared_op::REPLACE => write(SetMode::IfPresent),
        shared_op::INCR => Ok(SharedOp::Incr {
            key: key()?,
            by: number(1, "`by`", false)?.unwrap_or(Number::Int(0)),
            init: number(2, "`init`", true)?,
            init_ttl_ms: ttl(3, "init_ttl_ms")?,
        }),
        shared_op::DELETE => Ok(SharedOp::Delete { key: key()? }),
        shared_op::TTL => Ok(SharedOp::Ttl { key: key()? }),
        shared_op::EXPIRE => Ok(SharedOp::Expire {
            key: key()?,
            ttl_ms: ttl(1, "ttl_ms")?,
        }),
        shared_op::KEYS => Ok(SharedOp::Keys {
            limit: count(0, "the limit", DEFAULT_KEYS_LIMIT)?,
        }),
        shared_op::FLUSH_EXPIRED => Ok(SharedOp::FlushExpired {
            max: count(0, "max_count", 0)?,
        }),
        shared_op::FLUSH_ALL => Ok(SharedOp::FlushAll),
        other => Err(format!("bext.shared: unknown operation {other}")),
    }
}

/// An argument as an error message shows it.
fn describe(value: &Output) -> String {
    match value {
        Output::Int(i) => i.to_string(),
        Output::Float(f) => f.to_string(),
        other => other.type_name(),
    }
}

/// `value` as a call argument.
fn value_arg(value: &SharedValue) -> Arg<'_> {
    match value {
        SharedValue::Bool(b) => Arg::Bool(*b),
        SharedValue::Int(i) => Arg::Int(*i),
        SharedValue::Float(f) => Arg::Float(*f),
        SharedValue::Str(s) => Arg::Str(s),
    }
}

/// The reply in the call encoding the shim decodes.
fn encode_reply(reply: &Reply, buf: &mut Vec<u8>) {
    let args: Vec<Arg<'_>> = reply
        .values
        .iter()
        .map(|v| v.as_ref().map_or(Arg::Nil, value_arg))
        .collect();
    encode_args(buf, &args);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decode_rejects_bad_arguments_with_the_operation_name() {
        let mut req = Vec::new();
        encode_args(&mut req, &[Arg::Str(b"k"), Arg::Str(b"v"), Arg::Int(-1)]);
        assert_eq!(
            decode_op(shared_op::SET, &req),
            Err("bext.shared:set: ttl_ms must be a number of milliseconds >= 0, got -1".into())
        );
        encode_args(&mut req, &[Arg::Str(b"k"), Arg::Str(b"1")]);
        assert_eq!(
            decode_op(shared_op::INCR, &req),
            Err("bext.shared:incr: `by` must be a number, got a string".into())
        );
        assert!(decode_op(99, &req).is_err());
        assert!(
            decode_op(shared_op::GET, b"s\xff\xff\xff\xff").is_err(),
            "a truncated request is refused"
        );
    }
}
