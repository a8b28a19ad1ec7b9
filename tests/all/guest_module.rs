//! The guest module itself: what it imports and exports, and how its input
//! buffer carries every argument.

use bext_plugin_lua_wasm::guest_wasm;
use wasmparser::{Parser, Payload, TypeRef};

#[test]
fn guest_imports_only_bext_and_wasi_preview1() {
    let mut imports = Vec::new();
    let mut exports = Vec::new();
    for payload in Parser::new(0).parse_all(guest_wasm()) {
        match payload.unwrap() {
            Payload::ImportSection(section) => {
                for import in section.into_imports() {
                    let import = import.unwrap();
                    imports.push((
                        import.module.to_string(),
                        import.name.to_string(),
                        import.ty,
                    ));
                }
            }
            Payload::ExportSection(section) => {
                for export in section {
                    exports.push(export.unwrap().name.to_string());
                }
            }
            _ => {}
        }
    }
    assert!(!imports.is_empty());
    for (module, name, ty) in &imports {
        assert!(
            module == "bext" || module == "wasi_snapshot_preview1",
            "unexpected import {module}.{name} (a symbol the link left undefined?)"
        );
        assert!(
            matches!(ty, TypeRef::Func(_) | TypeRef::FuncExact(_)),
            "{module}.{name} is not a function import"
        );
    }
    for (module, name, _) in imports.iter().filter(|(m, _, _)| m == "bext") {
        assert!(
            [
                "log",
                "metric",
                "event",
                "heap_exhausted",
                "shared",
                "shared_take"
            ]
            .contains(&name.as_str()),
            "{module}.{name}"
        );
    }
    for export in [
        "memory",
        "_initialize",
        "bext_abi_version",
        "bext_init",
        "bext_input",
        "bext_load",
        "bext_call",
        "bext_describe",
        "bext_output",
    ] {
        assert!(
            exports.iter().any(|e| e == export),
            "missing export {export}: {exports:?}"
        );
    }
}

/// A Lua `error()` is a wasm exception; with wasmtime's `backtrace` feature
/// every one would capture a Rust backtrace whenever RUST_BACKTRACE=1 is set
/// (15x slower). The runtime crate must not enable it, directly or through
/// a dependency's default features.
#[test]
fn wasmtime_is_built_without_rust_backtrace_capture() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = std::process::Command::new(cargo)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args([
            "tree",
            "--offline",
            "-p",
            "bext-plugin-lua-wasm",
            "-e",
            "features",
            "-i",
            "wasmtime",
            "--prefix",
            "none",
        ])
        .output()
        .expect("running cargo tree");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let tree = String::from_utf8(out.stdout).unwrap();
    assert!(
        tree.contains("wasmtime feature \"gc-drc\""),
        "unexpected cargo tree output:\n{tree}"
    );
    assert!(
        !tree.contains("wasmtime feature \"backtrace\""),
        "wasmtime's backtrace feature is on:\n{tree}"
    );
}

/// The host asks the guest for an input buffer at a sandbox's first call and
/// reuses it while inputs fit (`host/src/guest/abi.rs`): every argument must
/// arrive whole whatever came before it: smaller, larger, past the size
/// buffers are reused up to (64 KiB) and back.
#[test]
fn every_argument_arrives_whole_through_the_reused_input_buffer() {
    let plugin = crate::common::load(
        "echo-sizes",
        "return { echo = function(self, s) return s end }",
    )
    .unwrap();
    let mut instance = plugin.acquire().unwrap();
    let sizes = [
        10, 3000, 10, 5000, 4096, 70_000, 10, 2_000_000, 10, 65_536, 100,
    ];
    for (i, size) in sizes.into_iter().enumerate() {
        let fill = char::from(b'a' + (i % 26) as u8).to_string();
        let arg = format!("{i}:{}", fill.repeat(size));
        let echoed = instance.call_json("echo", &[&arg]).unwrap();
        assert!(
            echoed.as_deref() == Some(arg.as_str()),
            "argument {i} ({size} bytes) came back as {:?}",
            echoed.map(|e| e.chars().take(40).collect::<String>())
        );
    }
}
