//! Compiles stock Lua 5.4 and the shim for wasm32-wasip1 (see `lua-src/`)
//! and links them as a WASI reactor.
use std::path::PathBuf;
use std::process::Command;

/// The guest's C stack (shadow stack in linear memory). Lua raises its own
/// catchable "C stack overflow" at 200 nested C calls; 192 KiB or more lets it
/// get there first (128 KiB made deep gsub/pcall nesting trap instead).
/// The host side has its own limit, `LuaRuntimeConfig::max_wasm_stack_bytes`
/// (default 512 KiB): measured with `tests/scripts/c_stack_nesting.lua` at
/// 5000 levels, 192 KiB of wasm stack still traps on gsub/pcall nesting and
/// 256 KiB reaches Lua's limit for every kind, so the default has 2x headroom.
/// `tests/all/conformance.rs` checks both profiles reach Lua's limit.
const STACK_BYTES: u32 = 256 * 1024;

fn main() {
    let lua = lua_wasm_build::Build::new()
        .try_build()
        .unwrap_or_else(|e| panic!("{e}"));
    lua.print_cargo_metadata();
    lua.c_build()
        .files(["c/shim.c", "c/bext_json.c"])
        .warnings(true)
        .compile("bext_shim");
    // The full profile (`bext-lua run` only, never plugins): a `lua`-like
    // entry with every standard library. Nothing in Rust references it, so the
    // export below is what pulls its object file into the link.
    lua.c_build()
        .file("c/full_profile.c")
        .warnings(true)
        .compile("bext_full_profile");
    println!("cargo:rustc-cdylib-link-arg=--export=bext_full_main");
    // Linux file semantics where WASI differs (empty path, reading a
    // directory, errno numbers): full_profile.c's "POSIX file semantics".
    for symbol in [
        "__wasilibc_open_nomode",
        "remove",
        "rename",
        "read",
        "readv",
        "luaL_fileresult",
    ] {
        println!("cargo:rustc-cdylib-link-arg=--wrap={symbol}");
    }
    println!("cargo:rerun-if-changed=c");
    println!("cargo:rustc-cdylib-link-arg=-zstack-size={STACK_BYTES}");
    // rustc links wasm with --allow-undefined, which turns any missing symbol
    // into a silent `env` import; make it a link error instead.
    println!("cargo:rustc-cdylib-link-arg=--unresolved-symbols=report-all");
    // A cdylib gets no WASI startup object. The reactor one exports
    // `_initialize`, which runs the C constructors once; the host calls it
    // right after instantiation. (A command's would run `__stdio_exit` after
    // every export call.)
    println!("cargo:rustc-cdylib-link-arg={}", crt1_reactor().display());
}

fn crt1_reactor() -> PathBuf {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let out = Command::new(&rustc)
        .args(["--print", "sysroot"])
        .output()
        .expect("running rustc --print sysroot");
    let sysroot = PathBuf::from(String::from_utf8(out.stdout).expect("sysroot path").trim());
    let target = std::env::var("TARGET").unwrap();
    sysroot
        .join("lib/rustlib")
        .join(target)
        .join("lib/self-contained/crt1-reactor.o")
}
