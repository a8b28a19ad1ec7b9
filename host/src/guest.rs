//! The guest boundary: everything that knows the guest is a wasm module.
//!
//! * [`abi`]: the plugin ABI (exports, pointers, the output slot, the
//!   argument encoding, the constants shared with the shim);
//! * [`imports`]: what the guest may import (WASI with nothing granted, the
//!   `bext.*` host functions), with [`shared_call`] for `bext.shared`;
//! * [`state`]: the data of each wasmtime store;
//! * [`call_mode`]: the one body that enters the guest for both APIs;
//! * [`traps`]: the error types a guest entry stops with.
//!
//! Only this layer reads or writes guest memory.

pub(crate) mod abi;
pub(crate) mod call_mode;
pub(crate) mod imports;
pub(crate) mod shared_call;
pub(crate) mod state;
pub(crate) mod traps;

/// The guest module: stock Lua 5.4 and the shim, prebuilt from `guest/` and
/// shipped in the `bext-plugin-lua-wasm-guest` crate.
pub(crate) static GUEST_WASM: &[u8] = bext_plugin_lua_wasm_guest::GUEST_WASM;

/// SHA-256 of [`GUEST_WASM`], hex.
pub(crate) const GUEST_SHA256: &str = bext_plugin_lua_wasm_guest::GUEST_SHA256;
