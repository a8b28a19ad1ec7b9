//! Builds the guest module (stock Lua 5.4 + the shim, `../guest`) for
//! wasm32-wasip1 with a nested `cargo build`, as wasmtime does for its test
//! programs, and embeds it: users of this crate never handle a `.wasm` path.
use sha2::{Digest, Sha256};
use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

const GUEST_TARGET: &str = "wasm32-wasip1";

fn main() {
    let host_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap());
    let workspace = host_dir.parent().unwrap().to_path_buf();
    let out_dir = PathBuf::from(env::var("OUT_DIR").unwrap());
    for dir in ["guest/src", "guest/c", "guest/build.rs", "guest/Cargo.toml", "lua-src/src", "lua-src/c", "lua-src/include"] {
        println!("cargo:rerun-if-changed={}", workspace.join(dir).display());
    }

    let target_dir = shared_guest_target_dir(&out_dir);
    let mut cargo = Command::new(env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cargo
        .current_dir(&workspace)
        .args(["build", "--release", "-p", "guest", "--target", GUEST_TARGET, "--target-dir"])
        .arg(&target_dir);
    // The outer build's settings are for the host target; keep only what
    // locates cargo's home, registries and network, and the jobserver.
    for (key, _) in env::vars_os() {
        let key = key.to_string_lossy();
        let keep = ["CARGO_HOME", "CARGO_MAKEFLAGS"].contains(&key.as_ref())
            || key.starts_with("CARGO_NET_")
            || key.starts_with("CARGO_REGISTRIES_")
            || key.starts_with("CARGO_HTTP_");
        if (key.starts_with("CARGO_") && !keep) || key == "RUSTFLAGS" {
            cargo.env_remove(key.as_ref());
        }
    }
    let status = cargo.status().expect("running cargo to build the guest");
    if !status.success() {
        panic!(
            "building the Lua guest for {GUEST_TARGET} failed (see above). It needs clang-22, llvm-22, \
             wasi-libc and the {GUEST_TARGET} rustup target: run scripts/bootstrap"
        );
    }

    let built = target_dir.join(GUEST_TARGET).join("release").join("guest.wasm");
    let wasm = std::fs::read(&built).unwrap_or_else(|e| panic!("reading {}: {e}", built.display()));
    std::fs::write(out_dir.join("guest.wasm"), &wasm).unwrap();
    let digest = Sha256::digest(&wasm);
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    println!("cargo:rustc-env=BEXT_GUEST_SHA256={hex}");
}

/// One guest build shared by every profile of this workspace (`target/guest`),
/// so `cargo test` and `cargo bench` do not each rebuild Lua. The nested cargo
/// locks that directory, so concurrent builds are safe.
fn shared_guest_target_dir(out_dir: &Path) -> PathBuf {
    // OUT_DIR is <target>/<profile>/build/<pkg>-<hash>/out
    let mut ancestors = out_dir.ancestors();
    match (ancestors.nth(2), ancestors.nth(1)) {
        (Some(build), Some(target)) if build.file_name().is_some_and(|n| n == "build") => target.join("guest"),
        _ => out_dir.join("guest-target"),
    }
}
