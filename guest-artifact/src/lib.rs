//! The prebuilt guest module of `bext-plugin-lua-wasm`: stock Lua 5.4 and the
//! bext shim, compiled for `wasm32-wasip1` as a WASI reactor.
//!
//! This crate only carries the artifact, so that dependents of the runtime
//! build with nothing but Rust. The module is built from source in the
//! bext-plugin-lua-wasm repository (`guest/` and `lua-src/`) by
//! `scripts/update-guest`; the repository's `scripts/test` rebuilds it and
//! fails if the result differs from [`GUEST_WASM`] byte for byte, and this
//! crate's own test checks [`GUEST_SHA256`] against the bytes.
#![no_std]
#![deny(missing_docs)]

/// The guest module (`guest.wasm`).
pub const GUEST_WASM: &[u8] = include_bytes!("../guest.wasm");

/// SHA-256 of [`GUEST_WASM`], 64 lowercase hex digits: identifies the guest
/// build (the runtime keys its compiled-artifact cache with it).
pub const GUEST_SHA256: &str = include_str!("../guest.wasm.sha256");

#[cfg(test)]
mod tests {
    extern crate std;
    use sha2::{Digest, Sha256};
    use std::string::String;

    #[test]
    fn the_checksum_matches_the_bytes() {
        let digest = Sha256::digest(super::GUEST_WASM);
        let hex: String = digest.iter().map(|b| std::format!("{b:02x}")).collect();
        assert_eq!(
            hex,
            super::GUEST_SHA256,
            "guest.wasm.sha256 is stale: run scripts/update-guest"
        );
    }

    #[test]
    fn the_module_is_wasm() {
        assert_eq!(&super::GUEST_WASM[..4], b"\0asm");
    }
}
