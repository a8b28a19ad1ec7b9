//! Every way a guest entry can end, turned into the library's [`Error`]:
//! traps and host errors by their type ([`classify`]), and the statuses the
//! shim reports for a load ([`load_error`]) or a call ([`call_result`]).

use crate::error::Error;
use crate::guest::abi::{Output, Status};
use crate::guest::traps::{
    AbiViolation, GuestOutOfMemory, HeapExhausted, HostFunctionPanicked, OutputTooLarge,
};
use crate::sandbox::{LOAD, SandboxSpec};
use std::time::Instant;
use wasmtime::Trap;

/// What a call's status and output mean for the caller.
pub(crate) fn call_result(
    spec: &SandboxSpec,
    method: &str,
    status: Status,
    out: Output,
) -> Result<Output, Error> {
    let plugin = || spec.name().to_string();
    match status {
        // Outputs over the payload limit were refused before being copied
        // ([`OutputTooLarge`], classified as `PayloadTooLarge`).
        Status::Ok => Ok(out),
        Status::Runtime => {
            let (message, traceback) = split_traceback(&out.text());
            Err(Error::Lua {
                plugin: plugin(),
                method: method.into(),
                message,
                traceback,
                code: None,
            })
        }
        Status::RuntimeCode => {
            let text = out.text();
            let (code, rest) = text.split_once('\n').unwrap_or((text.as_str(), ""));
            if !is_error_code(code) {
                return Err(Error::Abi {
                    plugin: plugin(),
                    method: method.into(),
                    message: format!("malformed error code {code:?}"),
                });
            }
            let (message, traceback) = split_traceback(rest);
            Err(Error::Lua {
                plugin: plugin(),
                method: method.into(),
                message,
                traceback,
                code: Some(code.into()),
            })
        }
        Status::NoMethod => Err(Error::MissingMethod {
            plugin: plugin(),
            method: method.into(),
        }),
        Status::Memory => Err(memory_limit(spec, method)),
        other => Err(Error::Abi {
            plugin: plugin(),
            method: method.into(),
            message: format!("unexpected status {other:?} from a call: {}", out.text()),
        }),
    }
}

/// Turns what stopped a guest entry into a typed error, by error type.
pub(crate) fn classify(
    err: wasmtime::Error,
    spec: &SandboxSpec,
    method: &str,
    started: Instant,
) -> Error {
    let plugin = spec.name().to_string();
    let method = method.to_string();
    if let Some(trap) = err.downcast_ref::<Trap>() {
        return match trap {
            Trap::OutOfFuel => Error::OutOfFuel {
                plugin,
                method,
                fuel_limit: spec.limits.fuel_per_call,
            },
            Trap::Interrupt => Error::Timeout {
                plugin,
                method,
                timeout_ms: spec.limits.timeout_ms,
                elapsed_ms: started.elapsed().as_millis() as u64,
            },
            Trap::StackOverflow => Error::StackOverflow { plugin, method },
            other => Error::Trap {
                plugin,
                method,
                message: other.to_string(),
            },
        };
    }
    if err.downcast_ref::<HeapExhausted>().is_some()
        || err.downcast_ref::<GuestOutOfMemory>().is_some()
    {
        return memory_limit(spec, &method);
    }
    if let Some(limit) = err.downcast_ref::<wasmtime::PoolConcurrencyLimitError>() {
        return Error::CapacityExhausted {
            plugin,
            message: limit.to_string(),
        };
    }
    if let Some(too_large) = err.downcast_ref::<OutputTooLarge>() {
        let limit = spec.limits.max_payload_bytes;
        return Error::PayloadTooLarge {
            plugin,
            method,
            bytes: too_large.bytes,
            limit,
        };
    }
    if let Some(panicked) = err.downcast_ref::<HostFunctionPanicked>() {
        return Error::HostPanic {
            plugin,
            method,
            import: panicked.import,
            message: panicked.message.clone(),
        };
    }
    if let Some(violation) = err.downcast_ref::<AbiViolation>() {
        return Error::Abi {
            plugin,
            method,
            message: violation.0.clone(),
        };
    }
    Error::Trap {
        plugin,
        method,
        message: format!("{err:#}"),
    }
}

pub(crate) fn memory_limit(spec: &SandboxSpec, method: &str) -> Error {
    Error::MemoryLimit {
        plugin: spec.name().into(),
        method: method.into(),
        limit_bytes: spec.limits.max_heap_bytes,
    }
}

pub(crate) fn load_error(spec: &SandboxSpec, status: Status, out: Output) -> Error {
    let plugin = spec.name().to_string();
    match status {
        Status::Syntax => Error::Syntax {
            plugin,
            message: out.text(),
        },
        Status::Runtime => {
            let (message, traceback) = split_traceback(&out.text());
            Error::ScriptInit {
                plugin,
                message,
                traceback,
            }
        }
        Status::NotATable => Error::NotATable {
            plugin,
            found: out.text(),
        },
        Status::Memory => memory_limit(spec, LOAD),
        other => Error::Abi {
            plugin,
            method: LOAD.into(),
            message: format!("status {other:?}: {}", out.text()),
        },
    }
}

/// The shape of an error code: snake_case, `[a-z_]+`, under 64 bytes.
fn is_error_code(code: &str) -> bool {
    (1..64).contains(&code.len()) && code.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
}

/// Splits the shim's "message\nstack traceback:\n..." into its two parts.
fn split_traceback(text: &str) -> (String, String) {
    match text.split_once("\nstack traceback:\n") {
        Some((message, traceback)) => (
            message.to_string(),
            format!("stack traceback:\n{traceback}"),
        ),
        None => (text.to_string(), String::new()),
    }
}
