//! The plugin ABI between the host and the guest shim (`guest/c/shim.c`).
//!
//! This module is the only code that knows guest pointers, lengths and the
//! layout of the output slot, and it trusts none of them: every read is
//! bounds-checked against the guest's memory, so a compromised guest can make
//! a call fail with [`AbiViolation`] but never make the host read outside
//! that memory or panic.
//!
//! Guest exports (all integers little-endian wasm32):
//!
//! | export | signature | does |
//! |---|---|---|
//! | `bext_abi_version` | `() -> u32` | [`ABI_VERSION`] |
//! | `bext_init` | `() -> i32 status` | create the Lua state, open the sandbox libraries, install `bext` (run once, before the generic snapshot is taken: [`crate::snapshot`]) |
//! | `bext_input` | `(len: u32) -> ptr` | an input buffer of at least `len` bytes, 0 when out of memory; it stays valid until the next `bext_input`, so the host writes later inputs of up to `len` bytes into it without asking again |
//! | `bext_load` | `(name_len, config_len, source_len) -> status` | input = name, config JSON, source; runs the script, keeps its table |
//! | `bext_call` | `(method_len, args_len) -> status` | input = method name, [encoded arguments](encode_args); calls `plugin:method(args...)` |
//! | `bext_describe` | `() -> status` | output = the `priority` field, then one line per method name (Lua identifiers only, so no key can forge a line) |
//! | `bext_reseed` | `() -> status` | a fresh `math.random` seed and `os.clock` origin, for instances made from a snapshot or fork |
//! | `bext_output` | `() -> ptr` | address of the 32-byte [output slot](Output), the same for the instance's life: read once |
//!
//! The output slot (`struct bext_output` in the shim), read after every entry:
//!
//! | offset | field | meaning |
//! |---|---|---|
//! | 0 | `kind: u32` | 0 nil, 1 boolean, 2 integer, 3 float, 4 string, 5 other type, 6 JSON, 7 JSON error |
//! | 4 | `ptr: u32` | kinds 4, 6, 7: the bytes; kind 5: the Lua type name |
//! | 8 | `len: u32` | length of the bytes at `ptr` |
//! | 16 | `i: i64` | kind 1 (0 or 1), kind 2 |
//! | 24 | `f: f64` | kind 3 |
//!
//! Kinds 6 and 7 come only from `bext_call`: a method that returns a table has
//! it encoded by the shim with `bext.json.encode` (6: the JSON text), or gets
//! the encoder's error message (7) when the table cannot be encoded.
//!
//! Host imports (module `bext`) are in [`crate::imports`].

use crate::guest::call_mode::CallMode;
use crate::guest::traps::{AbiViolation, GuestOutOfMemory, OutputTooLarge};
use wasmtime::{AsContextMut, Instance, Memory, TypedFunc};

/// Declares the constants both sides of the ABI use, once: each group
/// becomes a Rust module of `i32` constants (`status::OK`) and a C `enum`
/// whose names carry the group's prefix (`ST_OK`) in `guest/c/bext_abi.h`,
/// which [`c_header`] renders and a test compares with the checked-in file.
macro_rules! abi_constants {
    ($(
        $(#[doc = $doc:literal])*
        $group:ident $prefix:literal {
            $( $(#[doc = $item_doc:literal])* $name:ident = $value:literal, )+
        }
    )+) => {
        $(
            $(#[doc = $doc])*
            #[allow(dead_code)] // every code exists on both sides; not every one is named here
            pub(crate) mod $group {
                $( $(#[doc = $item_doc])* pub(crate) const $name: i32 = $value; )+
            }
        )+

        /// `guest/c/bext_abi.h` as the constants above define it.
        #[cfg(test)]
        pub(crate) fn c_header() -> String {
            let mut h = String::from(C_HEADER_PREAMBLE);
            h += &format!("#define BEXT_ABI_VERSION {}\n", ABI_VERSION);
            h += &format!("#define BEXT_OUTPUT_SLOT_BYTES {}\n", OUTPUT_SLOT_BYTES);
            $(
                h += "\n";
                $( h += &format!("/*{} */\n", $doc); )*
                h += "enum {\n";
                $(
                    $( h += &format!("    /*{} */\n", $item_doc); )*
                    h += &format!("    {}{} = {},\n", $prefix, stringify!($name), $value);
                )+
                h += "};\n";
            )+
            h += "\n#endif\n";
            h
        }
    };
}

/// The top of `guest/c/bext_abi.h`.
#[cfg(test)]
const C_HEADER_PREAMBLE: &str = "\
/* Generated from host/src/guest/abi.rs (`abi_constants!`): do not edit.
 * The constants the shim and the host agree on; the host's test
 * `guest::abi::tests::the_c_header_is_generated_from_the_constants` fails
 * when this file differs from what the Rust side generates, and prints it. */
#ifndef BEXT_ABI_H
#define BEXT_ABI_H

";

/// The ABI version this host speaks; the guest reports its own.
pub(crate) const ABI_VERSION: u32 = 2;

/// Size of the output slot in guest memory.
const OUTPUT_SLOT_BYTES: usize = 32;

abi_constants! {
    /// What a guest entry point returns.
    status "ST_" {
        OK = 0,
        /// Uncaught Lua error; output = message and traceback.
        RUNTIME = 1,
        /// The script does not compile; output = message.
        SYNTAX = 2,
        /// `LUA_ERRMEM` reached the top.
        MEMORY = 3,
        /// The script evaluated to a non-table; output = its type.
        NOT_TABLE = 4,
        /// The method is absent; output = its name.
        NO_METHOD = 5,
        /// The guest was not initialised or no plugin is loaded.
        NOT_READY = 6,
        /// The argument encoding was rejected.
        BAD_INPUT = 7,
        /// Uncaught Lua error with an error code; output = code, newline,
        /// message and traceback.
        RUNTIME_CODE = 8,
    }
    /// The `kind` field of the output slot.
    output_kind "OUT_" {
        NIL = 0,
        BOOL = 1,
        INT = 2,
        FLOAT = 3,
        STRING = 4,
        /// Another Lua type; the bytes are its type name.
        OTHER = 5,
        /// A returned table, encoded as JSON by the shim.
        JSON = 6,
        /// A returned table that `bext.json.encode` rejected; the message.
        JSON_ERROR = 7,
    }
    /// The `op` argument of the `bext.shared` import.
    shared_op "SHARED_" {
        GET = 1,
        SET = 2,
        ADD = 3,
        REPLACE = 4,
        INCR = 5,
        DELETE = 6,
        TTL = 7,
        EXPIRE = 8,
        KEYS = 9,
        FLUSH_EXPIRED = 10,
        FLUSH_ALL = 11,
    }
    /// The `level` argument of the `bext.log` import.
    log_level "LOG_" {
        ERROR = 0,
        WARN = 1,
        INFO = 2,
        DEBUG = 3,
    }
    /// The `kind` argument of the `bext.event` import.
    event_kind "EVENT_" {
        CACHE = 1,
        LIFECYCLE = 2,
    }
}

/// What a guest entry point reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Status {
    Ok,
    /// Uncaught Lua error; output = message and traceback.
    Runtime,
    /// The script does not compile; output = message.
    Syntax,
    /// `LUA_ERRMEM` reached the top.
    Memory,
    /// The script evaluated to a non-table; output = its type.
    NotATable,
    /// The method is absent; output = its name.
    NoMethod,
    /// The guest was not initialised or no plugin is loaded.
    NotReady,
    /// The argument encoding was rejected.
    BadInput,
    /// Uncaught Lua error raised with an error code (by `error` with a coded
    /// message, or an error table's `code`); output = the code, a newline,
    /// then message and traceback. The code comes from the raised value,
    /// never from the message text.
    RuntimeCode,
}

impl Status {
    fn from_code(code: i32) -> Result<Status, AbiViolation> {
        Ok(match code {
            status::OK => Status::Ok,
            status::RUNTIME => Status::Runtime,
            status::SYNTAX => Status::Syntax,
            status::MEMORY => Status::Memory,
            status::NOT_TABLE => Status::NotATable,
            status::NO_METHOD => Status::NoMethod,
            status::NOT_READY => Status::NotReady,
            status::BAD_INPUT => Status::BadInput,
            status::RUNTIME_CODE => Status::RuntimeCode,
            other => return Err(AbiViolation(format!("unknown status code {other}"))),
        })
    }
}

/// A Lua value as the output slot describes it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Output {
    Nil,
    Bool(bool),
    Int(i64),
    Float(f64),
    /// A Lua string: arbitrary bytes.
    Str(Vec<u8>),
    /// A value of another type, by its Lua type name (`function`, `userdata`, ...).
    Other(String),
    /// A returned table, encoded as JSON text by the shim.
    Json(Vec<u8>),
    /// A returned table that `bext.json.encode` rejected: its error message.
    JsonError(String),
}

impl Output {
    /// The Lua type name, for error messages.
    pub(crate) fn type_name(&self) -> String {
        match self {
            Output::Nil => "nil".into(),
            Output::Bool(_) => "a boolean".into(),
            Output::Int(_) | Output::Float(_) => "a number".into(),
            Output::Str(_) => "a string".into(),
            Output::Json(_) | Output::JsonError(_) => "a table".into(),
            Output::Other(t) => format!("a {t}"),
        }
    }

    /// The bytes of a string output (messages on error statuses).
    pub(crate) fn text(&self) -> String {
        match self {
            Output::Str(bytes) => String::from_utf8_lossy(bytes).into_owned(),
            other => other.type_name(),
        }
    }
}

/// One argument of a call.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Arg<'a> {
    Nil,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(&'a [u8]),
}

impl<'a> From<&'a str> for Arg<'a> {
    fn from(s: &'a str) -> Self {
        Arg::Str(s.as_bytes())
    }
}

/// Appends `method` and the encoded `args` to `buf` (cleared first).
pub(crate) fn encode_call(buf: &mut Vec<u8>, method: &str, args: &[Arg<'_>]) {
    buf.clear();
    buf.extend_from_slice(method.as_bytes());
    append_args(buf, args);
}

/// `args` alone in `buf` (cleared first): the encoding of `bext.shared`'s
/// replies, which the shim decodes like call arguments.
pub(crate) fn encode_args(buf: &mut Vec<u8>, args: &[Arg<'_>]) {
    buf.clear();
    append_args(buf, args);
}

/// The argument encoding: a sequence of records, each a tag byte and its
/// payload: `n` nil, `b` u8, `i` i64, `f` f64, `s` u32 length and the bytes.
fn append_args(buf: &mut Vec<u8>, args: &[Arg<'_>]) {
    for arg in args {
        match *arg {
            Arg::Nil => buf.push(b'n'),
            Arg::Bool(b) => buf.extend_from_slice(&[b'b', b as u8]),
            Arg::Int(i) => {
                buf.push(b'i');
                buf.extend_from_slice(&i.to_le_bytes());
            }
            Arg::Float(x) => {
                buf.push(b'f');
                buf.extend_from_slice(&x.to_le_bytes());
            }
            Arg::Str(bytes) => {
                buf.push(b's');
                // Callers bound payloads far below 4 GiB (max_payload_bytes).
                buf.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
                buf.extend_from_slice(bytes);
            }
        }
    }
}

/// Decodes what the guest encoded the same way (a `bext.shared` request).
/// Strings come back as [`Output::Str`]; malformed input is an error.
pub(crate) fn decode_args(mut bytes: &[u8]) -> Result<Vec<Output>, AbiViolation> {
    let mut out = Vec::new();
    let truncated = || AbiViolation("truncated argument encoding".into());
    while let Some((&tag, rest)) = bytes.split_first() {
        let take = |n: usize| rest.get(..n).ok_or_else(truncated);
        let (value, used) = match tag {
            b'n' => (Output::Nil, 0),
            b'b' => (Output::Bool(take(1)?[0] != 0), 1),
            b'i' => (
                Output::Int(i64::from_le_bytes(take(8)?.try_into().expect("8 bytes"))),
                8,
            ),
            b'f' => (
                Output::Float(f64::from_le_bytes(take(8)?.try_into().expect("8 bytes"))),
                8,
            ),
            b's' => {
                let len = u32::from_le_bytes(take(4)?.try_into().expect("4 bytes")) as usize;
                let text = rest.get(4..4 + len).ok_or_else(truncated)?;
                (Output::Str(text.to_vec()), 4 + len)
            }
            other => return Err(AbiViolation(format!("unknown argument tag {other:#x}"))),
        };
        out.push(value);
        bytes = &rest[used..];
    }
    Ok(out)
}

/// `len` bytes at guest address `ptr`, bounds-checked.
pub(crate) fn guest_bytes(memory: &[u8], ptr: u32, len: u32) -> Result<&[u8], AbiViolation> {
    let start = ptr as usize;
    start
        .checked_add(len as usize)
        .and_then(|end| memory.get(start..end))
        .ok_or_else(|| {
            AbiViolation(format!(
                "guest buffer {ptr:#x}+{len} lies outside its {} bytes of memory",
                memory.len()
            ))
        })
}

/// `len` writable bytes at guest address `ptr`, bounds-checked.
pub(crate) fn guest_bytes_mut(
    memory: &mut [u8],
    ptr: u32,
    len: u32,
) -> Result<&mut [u8], AbiViolation> {
    let size = memory.len();
    let start = ptr as usize;
    start
        .checked_add(len as usize)
        .and_then(|end| memory.get_mut(start..end))
        .ok_or_else(|| {
            AbiViolation(format!(
                "guest buffer {ptr:#x}+{len} lies outside its {size} bytes of memory"
            ))
        })
}

/// The guest's exports, resolved once per instance. Every entry takes the
/// store's [`CallMode`]; one body serves both APIs.
///
/// A call enters the guest once: the output slot's address is read when the
/// instance is made, and the input buffer is asked for again only when an
/// input outgrows it (an entry costs about 250 instructions of wasmtime's
/// and ours before the guest runs: callgrind, in benches/RESULTS.md).
pub(crate) struct GuestExports {
    pub(crate) memory: Memory,
    input: TypedFunc<u32, u32>,
    load: TypedFunc<(u32, u32, u32), i32>,
    call: TypedFunc<(u32, u32), i32>,
    describe: TypedFunc<(), i32>,
    reseed: TypedFunc<(), i32>,
    /// Address of the output slot (`bext_output`).
    output_slot: u32,
    /// The input buffer `bext_input` last gave and the size asked for, when
    /// later inputs may reuse it (see [`input_request`]).
    input_buffer: Option<InputBuffer>,
}

/// An input buffer in guest memory: `ptr` and the bytes it was asked for.
#[derive(Clone, Copy)]
struct InputBuffer {
    ptr: u32,
    len: u32,
}

/// Inputs up to this size reuse one buffer; a larger one is asked for each
/// time, so that the shim can give it back once inputs are small again.
const REUSED_INPUT_MAX: u32 = 64 << 10;

/// What to ask `bext_input` for an input of `len` bytes, and whether the
/// buffer may be reused: a small input's size is rounded up (at least 4
/// KiB, the shim's own smallest buffer) so that similar inputs fit.
fn input_request(len: u32) -> (u32, bool) {
    if len <= REUSED_INPUT_MAX {
        (len.max(4 << 10).next_power_of_two(), true)
    } else {
        (len, false)
    }
}

/// A failed guest entry: the trap or host error that stopped it.
pub(crate) type CallError = wasmtime::Error;

impl GuestExports {
    /// Resolves the exports and checks the guest's ABI version.
    pub(crate) async fn new(
        mode: CallMode,
        mut store: impl AsContextMut<Data: Send>,
        instance: &Instance,
    ) -> wasmtime::Result<Self> {
        let mut cx = store.as_context_mut();
        let memory = instance
            .get_memory(&mut cx, "memory")
            .ok_or_else(|| wasmtime::Error::msg("the guest exports no memory"))?;
        let version: TypedFunc<(), u32> = instance.get_typed_func(&mut cx, "bext_abi_version")?;
        check_version(mode.call(&version, &mut cx, ()).await?)?;
        let output: TypedFunc<(), u32> = instance.get_typed_func(&mut cx, "bext_output")?;
        let output_slot = mode.call(&output, &mut cx, ()).await?;
        // Checked again at every read; refused here so that a guest whose
        // slot lies outside its memory fails when it is made, not per call.
        guest_bytes(memory.data(&cx), output_slot, OUTPUT_SLOT_BYTES as u32)
            .map_err(|e| AbiViolation(format!("the output slot: {}", e.0)))?;
        Ok(GuestExports {
            memory,
            input: instance.get_typed_func(&mut cx, "bext_input")?,
            load: instance.get_typed_func(&mut cx, "bext_load")?,
            call: instance.get_typed_func(&mut cx, "bext_call")?,
            describe: instance.get_typed_func(&mut cx, "bext_describe")?,
            reseed: instance.get_typed_func(&mut cx, "bext_reseed")?,
            output_slot,
            input_buffer: None,
        })
    }

    /// `bext_load(name, config, source)`.
    pub(crate) async fn load(
        &mut self,
        mode: CallMode,
        mut store: impl AsContextMut<Data: Send>,
        name: &str,
        config: &str,
        source: &str,
    ) -> Result<(Status, Output), CallError> {
        let parts = [name.as_bytes(), config.as_bytes(), source.as_bytes()];
        self.write_input(mode, &mut store, &parts).await?;
        // The script's size says nothing of a call's: the first call asks
        // for a buffer of its own size.
        self.input_buffer = None;
        let lens = (name.len() as u32, config.len() as u32, source.len() as u32);
        let code = mode.call(&self.load, &mut store, lens).await?;
        self.read_output(store, code, usize::MAX)
    }

    /// `bext_call` with `encoded` from [`encode_call`] (`method_len` bytes of
    /// method name first). A string or JSON output longer than
    /// `max_output_bytes` is not copied out: [`OutputTooLarge`].
    pub(crate) async fn call(
        &mut self,
        mode: CallMode,
        mut store: impl AsContextMut<Data: Send>,
        encoded: &[u8],
        method_len: usize,
        max_output_bytes: usize,
    ) -> Result<(Status, Output), CallError> {
        self.write_input(mode, &mut store, &[encoded]).await?;
        let args_len = encoded.len() - method_len;
        let lens = (method_len as u32, args_len as u32);
        let code = mode.call(&self.call, &mut store, lens).await?;
        self.read_output(store, code, max_output_bytes)
    }

    /// `bext_describe`.
    pub(crate) async fn describe(
        &self,
        mode: CallMode,
        mut store: impl AsContextMut<Data: Send>,
    ) -> Result<(Status, Output), CallError> {
        let code = mode.call(&self.describe, &mut store, ()).await?;
        self.read_output(store, code, usize::MAX)
    }

    /// `bext_reseed`.
    pub(crate) async fn reseed(
        &self,
        mode: CallMode,
        mut store: impl AsContextMut<Data: Send>,
    ) -> Result<(Status, Output), CallError> {
        let code = mode.call(&self.reseed, &mut store, ()).await?;
        self.read_output(store, code, usize::MAX)
    }

    /// Copies `parts` back to back into the input buffer, asking
    /// `bext_input` for one when the last is too small or not to be reused.
    async fn write_input(
        &mut self,
        mode: CallMode,
        mut store: impl AsContextMut<Data: Send>,
        parts: &[&[u8]],
    ) -> Result<(), CallError> {
        let len = input_len(parts)?;
        if let Some(buffer) = self.input_buffer.filter(|buffer| len <= buffer.len) {
            return self.copy_input(store, buffer.ptr, parts);
        }
        // The shim may move the buffer at any request.
        self.input_buffer = None;
        let (asked, reusable) = input_request(len);
        let ptr = mode.call(&self.input, &mut store, asked).await?;
        self.copy_input(store, ptr, parts)?;
        if reusable {
            self.input_buffer = Some(InputBuffer { ptr, len: asked });
        }
        Ok(())
    }

    /// Copies `parts` back to back into the input buffer `bext_input`
    /// returned at `ptr`.
    fn copy_input(
        &self,
        mut store: impl AsContextMut<Data: Send>,
        ptr: u32,
        parts: &[&[u8]],
    ) -> Result<(), CallError> {
        let total: usize = parts.iter().map(|p| p.len()).sum();
        if ptr == 0 {
            return Err(GuestOutOfMemory { requested: total }.into());
        }
        let memory = self.memory.data_mut(&mut store);
        let mut at = ptr as usize;
        let end = at.checked_add(total).filter(|&end| end <= memory.len());
        if end.is_none() {
            return Err(AbiViolation(format!(
                "input buffer {ptr:#x}+{total} lies outside guest memory"
            ))
            .into());
        }
        for part in parts {
            memory[at..at + part.len()].copy_from_slice(part);
            at += part.len();
        }
        Ok(())
    }

    /// Reads the status `code` and the output slot after an entry
    /// returned; string and JSON outputs over `max_bytes` are refused before
    /// being copied.
    fn read_output(
        &self,
        store: impl AsContextMut<Data: Send>,
        code: i32,
        max_bytes: usize,
    ) -> Result<(Status, Output), CallError> {
        let status = Status::from_code(code)?;
        let memory = self.memory.data(&store);
        let raw = guest_bytes(memory, self.output_slot, OUTPUT_SLOT_BYTES as u32)?;
        let word = |at: usize| u32::from_le_bytes(raw[at..at + 4].try_into().expect("4 bytes"));
        let long = |at: usize| raw[at..at + 8].try_into().expect("8 bytes");
        let (raw_kind, ptr, len) = (word(0), word(4), word(8));
        // A kind beyond i32 matches no constant: reported as the u32 it is.
        let kind = i32::try_from(raw_kind).unwrap_or(-1);
        if matches!(kind, output_kind::STRING | output_kind::JSON) && len as usize > max_bytes {
            guest_bytes(memory, ptr, len)?; // out of bounds stays an ABI violation
            return Err(OutputTooLarge {
                bytes: len as usize,
            }
            .into());
        }
        let output = match kind {
            output_kind::NIL => Output::Nil,
            output_kind::BOOL => Output::Bool(i64::from_le_bytes(long(16)) != 0),
            output_kind::INT => Output::Int(i64::from_le_bytes(long(16))),
            output_kind::FLOAT => Output::Float(f64::from_le_bytes(long(24))),
            output_kind::STRING => Output::Str(guest_bytes(memory, ptr, len)?.to_vec()),
            output_kind::OTHER => Output::Other(
                String::from_utf8_lossy(guest_bytes(memory, ptr, len.min(64))?).into_owned(),
            ),
            output_kind::JSON => Output::Json(guest_bytes(memory, ptr, len)?.to_vec()),
            output_kind::JSON_ERROR => Output::JsonError(
                String::from_utf8_lossy(guest_bytes(memory, ptr, len.min(4096))?).into_owned(),
            ),
            _ => return Err(AbiViolation(format!("unknown output kind {raw_kind}")).into()),
        };
        Ok((status, output))
    }
}

/// The guest's ABI version against ours.
fn check_version(guest_version: u32) -> wasmtime::Result<()> {
    if guest_version != ABI_VERSION {
        return Err(wasmtime::Error::msg(format!(
            "guest speaks ABI version {guest_version}, host speaks {ABI_VERSION}"
        )));
    }
    Ok(())
}

/// The input buffer size for `parts`, as the guest's `u32`.
fn input_len(parts: &[&[u8]]) -> Result<u32, CallError> {
    let total: usize = parts.iter().map(|p| p.len()).sum();
    Ok(u32::try_from(total).map_err(|_| AbiViolation(format!("input of {total} bytes")))?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_inputs_ask_for_a_rounded_buffer_they_reuse_and_large_ones_for_their_size() {
        assert_eq!(input_request(0), (4096, true));
        assert_eq!(input_request(300), (4096, true));
        assert_eq!(input_request(4097), (8192, true));
        assert_eq!(input_request(REUSED_INPUT_MAX), (REUSED_INPUT_MAX, true));
        assert_eq!(
            input_request(REUSED_INPUT_MAX + 1),
            (REUSED_INPUT_MAX + 1, false)
        );
        assert_eq!(input_request(u32::MAX), (u32::MAX, false));
    }

    /// The shim includes `guest/c/bext_abi.h`: it must say what the
    /// constants here say. On a mismatch the expected file is printed; with
    /// `BEXT_WRITE_ABI_HEADER=1` the test writes it instead.
    #[test]
    fn the_c_header_is_generated_from_the_constants() {
        let guest_c = concat!(env!("CARGO_MANIFEST_DIR"), "/../guest/c");
        if !std::path::Path::new(guest_c).join("shim.c").exists() {
            // A packaged copy of this crate has no guest sources beside it.
            return;
        }
        let path = format!("{guest_c}/bext_abi.h");
        let expected = c_header();
        if std::env::var_os("BEXT_WRITE_ABI_HEADER").is_some() {
            std::fs::write(&path, &expected).unwrap();
        }
        let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            on_disk == expected,
            "{path} differs from the constants of host/src/guest/abi.rs \
             (BEXT_WRITE_ABI_HEADER=1 rewrites it); it should read:\n{expected}"
        );
    }
}
