//! The guest module: stock Lua 5.4 plus the C shim in `c/shim.c`, which owns
//! the Lua state and exports the plugin ABI (documented there and in
//! `host/src/guest/abi.rs`). Rust contributes the reactor startup code, the libc
//! (std links wasi-libc) and this reference, which pulls the shim's object
//! file into the link; its functions carry `export_name` attributes, so they
//! become the module's exports.

unsafe extern "C" {
    fn bext_abi_version() -> u32;
}

#[used]
static LINK_SHIM: unsafe extern "C" fn() -> u32 = bext_abi_version;
