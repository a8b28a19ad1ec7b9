//! `bext-lua test`: the specs of every example plugin pass, and a broken
//! plugin or a failing assertion fails the run with the spec's line.

use crate::common::TempDir;
use std::path::PathBuf;
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_bext-lua");

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn bext_lua_test(dir: &std::path::Path, args: &[&str]) -> Output {
    Command::new(BIN)
        .current_dir(dir)
        .arg("test")
        .args(args)
        .output()
        .expect("starting bext-lua")
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn every_example_plugin_has_a_spec_and_it_passes() {
    let plugins = repo().join("examples/plugins");
    for entry in std::fs::read_dir(&plugins).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "lua") {
            let stem = path.file_stem().unwrap().to_string_lossy().into_owned();
            let spec = plugins.join("spec").join(format!("{stem}_spec.lua"));
            assert!(spec.is_file(), "{} has no spec", path.display());
        }
    }
    let out = bext_lua_test(&repo(), &["examples/plugins/spec"]);
    let output = text(&out);
    assert!(out.status.success(), "{output}");
    assert!(
        output.contains("21 spec files: ") && output.contains(" 0 failed"),
        "{output}"
    );
    assert!(!output.contains("FAIL"), "{output}");
}

/// The gateway's tenants: each plugin of its own has a spec in
/// `examples/gateway/spec/` (beside the tenants' folder, which the gateway
/// reads as tenants; the tenants' symlinks to
/// `examples/plugins/` are covered by that folder's specs), and they pass.
#[test]
fn every_gateway_plugin_has_a_spec_and_it_passes() {
    let plugins = repo().join("examples/gateway/plugins");
    let mut count = 0;
    for tenant in std::fs::read_dir(&plugins).unwrap() {
        let tenant = tenant.unwrap().path();
        if !tenant.is_dir() {
            continue;
        }
        for entry in std::fs::read_dir(&tenant).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_none_or(|e| e != "lua") {
                continue;
            }
            let stem = path.file_stem().unwrap().to_string_lossy().into_owned();
            let folder = if path.is_symlink() {
                repo().join("examples/plugins/spec")
            } else {
                count += 1;
                repo().join("examples/gateway/spec")
            };
            let spec = folder.join(format!("{stem}_spec.lua"));
            assert!(spec.is_file(), "{} has no spec", path.display());
        }
    }
    assert_eq!(count, 3);
    let out = bext_lua_test(&repo(), &["examples/gateway/spec"]);
    let output = text(&out);
    assert!(out.status.success(), "{output}");
    assert!(
        output.contains("3 spec files: 6 passed, 0 failed"),
        "{output}"
    );
    assert!(output.contains("hog/hoard is stopped at its sandbox's memory limit"));
}

#[test]
fn a_broken_plugin_and_a_failed_assertion_fail_with_their_lines() {
    let dir = TempDir::new("specs");
    dir.write(
        "typo.lua",
        "return {\n  on_request = function(self, ctx_json)\n    return bext.midleware_continue()\n  end,\n}\n",
    );
    dir.write(
        "syntax.lua",
        "return {\n  on_request = function(self)\n end\n",
    );
    dir.write(
        "typo_spec.lua",
        r#"describe("typo", function()
  local plugin = load_plugin("typo.lua")
  it("continues", function()
    assert.equals("continue", plugin:on_request({}).action)
  end)
  it("compares", function()
    assert.equals(1, 2)
  end)
  it("passes", function() assert.truthy(true) end)
end)
describe("syntax", function()
  it("loads", function() load_plugin("syntax.lua") end)
end)
"#,
    );
    let out = bext_lua_test(&dir.0, &[]);
    let output = text(&out);
    assert_eq!(out.status.code(), Some(1), "{output}");
    assert!(
        output.contains("FAIL  typo continues (typo_spec.lua:3)"),
        "{output}"
    );
    assert!(
        output.contains("typo_spec.lua:4: lua plugin `typo.lua`: on_request: typo.lua:3: attempt to call a nil value (field 'midleware_continue')"),
        "{output}"
    );
    assert!(
        output.contains("typo_spec.lua:7: expected 1, got 2"),
        "{output}"
    );
    assert!(output.contains("  ok    typo passes"), "{output}");
    assert!(
        output.contains("typo_spec.lua:12: lua plugin `syntax.lua`"),
        "{output}"
    );
    assert!(output.contains("syntax.lua:4:"), "{output}");
    assert!(
        output.contains("1 spec file: 1 passed, 3 failed"),
        "{output}"
    );
}

#[test]
fn a_spec_that_does_not_parse_is_an_error() {
    let dir = TempDir::new("specs-syntax");
    dir.write("bad_spec.lua", "describe(\"x\", function()\n");
    let out = bext_lua_test(&dir.0, &["bad_spec.lua"]);
    let output = text(&out);
    assert_eq!(out.status.code(), Some(1), "{output}");
    assert!(
        output.contains("ERROR the spec did not run to the end"),
        "{output}"
    );
    assert!(output.contains("bad_spec.lua:2:"), "{output}");
}
