//! The lint of `bext-lua check`: its list of the plugin environment against
//! what a sandbox has, each kind of finding, and the shipped plugins clean.

use crate::common;
use bext_lua_wasm_suite::cli::lint::PLUGIN_ENVIRONMENT;
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_bext-lua");

/// `_G` of a loaded plugin, walked with `pairs` (fields of its tables as
/// dotted paths, `_G` itself not entered).
fn sandbox_environment() -> BTreeSet<String> {
    let plugin = common::load(
        "lint-walk",
        r#"
        local function walk(t, prefix, out, seen)
          seen[t] = true
          for k, v in pairs(t) do
            out[#out + 1] = prefix .. k
            if type(v) == "table" and not seen[v] then walk(v, prefix .. k .. ".", out, seen) end
          end
          return out
        end
        return {
          matches = function(self) return true end,
          transform = function(self)
            return table.concat(walk(_G, "", {}, { [_G] = true }), "\n")
          end,
        }
        "#,
    )
    .unwrap();
    common::transform_lines(&plugin)
}

#[test]
fn the_lint_environment_is_what_a_sandbox_has() {
    let sandbox = sandbox_environment();
    assert!(sandbox.contains("bext.shared.incr") && sandbox.contains("string.format"));
    assert!(!sandbox.contains("dofile") && !sandbox.contains("io"));
    let listed: BTreeSet<String> = PLUGIN_ENVIRONMENT.iter().map(|s| s.to_string()).collect();
    let missing: Vec<_> = sandbox.difference(&listed).collect();
    let invented: Vec<_> = listed.difference(&sandbox).collect();
    assert!(
        missing.is_empty() && invented.is_empty(),
        "PLUGIN_ENVIRONMENT lacks {missing:?} and lists {invented:?}, which a sandbox does not have"
    );
    let mut sorted = PLUGIN_ENVIRONMENT.to_vec();
    sorted.sort_unstable();
    assert_eq!(sorted, PLUGIN_ENVIRONMENT, "kept sorted");
}

fn check(dir: &common::TempDir, name: &str, source: &str) -> (Option<i32>, String) {
    let path = dir.write(name, source);
    let out: Output = Command::new(BIN).arg("check").arg(&path).output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (
        out.status.code(),
        text.replace(&format!("{}/", dir.0.display()), ""),
    )
}

#[test]
fn undefined_globals_and_bext_fields_are_errors() {
    let dir = common::TempDir::new("lint-globals");
    let (status, out) = check(
        &dir,
        "globals.lua",
        r#"local json = bext.json
count = 0
return {
  on_request = function(self, ctx_json)
    count = count + 1
    local path = json.decode(ctx_json).path
    if path == "/x" then return bext.midleware_continue() end
    local f = io.open("/etc/passwd")
    pirnt(string.fromat("%d", count), f, _ENV, _G.anything, bext.shared:incr("n", 1))
    bext.shared:incr2("n")
    return bext.middleware_continue()
  end,
}
"#,
    );
    assert_eq!(status, Some(1), "{out}");
    for expected in [
        "globals.lua:2:1: error: assignment to undefined global `count`: declare it `local`",
        "globals.lua:5:5: error: assignment to undefined global `count`",
        "globals.lua:5:13: error: undefined global `count`",
        "globals.lua:7:38: error: undefined field `bext.midleware_continue`: the plugin sandbox's `bext` has no `midleware_continue`; did you mean `bext.middleware_continue`?",
        "globals.lua:8:15: error: undefined global `io`: the plugin sandbox has no such global",
        "globals.lua:9:5: error: undefined global `pirnt`: the plugin sandbox has no such global; did you mean `print`?",
        "globals.lua:9:18: error: undefined field `string.fromat`",
        "globals.lua:9:31: error: undefined global `count`",
        "globals.lua:10:17: error: undefined field `bext.shared.incr2`",
    ] {
        assert!(out.contains(expected), "{expected}\n in:\n{out}");
    }
    assert_eq!(out.matches(": error: ").count(), 9, "{out}");
    assert!(out.contains("loads in the plugin sandbox"), "{out}");
}

#[test]
fn a_method_an_edit_or_two_from_a_capability_method_is_an_error() {
    let dir = common::TempDir::new("lint-methods");
    let (status, out) = check(
        &dir,
        "typo.lua",
        r#"local M = { priority = 10, limit = 5 }
function M:on_request(ctx_json) return bext.middleware_continue() end
function M.on_respnose(self, arg_json) return {} end
M.trnasform = function() end
return M
"#,
    );
    assert_eq!(status, Some(1), "{out}");
    assert!(
        out.contains("typo.lua:3:12: error: `on_respnose` is not a capability method: did you mean `on_response`?"),
        "{out}"
    );
    assert!(
        out.contains(
            "typo.lua:4:3: error: `trnasform` is not a capability method: did you mean `transform`?"
        ),
        "{out}"
    );
    assert_eq!(out.matches(": error: ").count(), 2, "{out}");

    let (status, out) = check(
        &dir,
        "requets.lua",
        "return {\n  on_request = function() return bext.middleware_continue() end,\n  on_requets = function() end,\n}\n",
    );
    assert_eq!(status, Some(1), "{out}");
    assert!(
        out.contains("requets.lua:3:3: error: `on_requets` is not a capability method: did you mean `on_request`?"),
        "{out}"
    );
}

#[test]
fn unused_locals_are_warnings_and_do_not_fail_the_check() {
    let dir = common::TempDir::new("lint-unused");
    let (status, out) = check(
        &dir,
        "unused.lua",
        r#"local unused = 1
local _ignored = 2
local written = 3
written = 4
local function helper() end
local LIMIT <const>, used = 10, 0
local handle <close> = nil
return {
  on_request = function(self, ctx_json)
    for i, v in pairs({}) do end
    local a, b = used + LIMIT, 1
    do local inner = a end
    repeat local r = 1 until r == 1
    goto done
    ::done::
    return bext.middleware_continue()
  end,
}
"#,
    );
    assert_eq!(status, Some(0), "{out}");
    for expected in [
        "unused.lua:1:7: warning: unused local `unused`",
        "unused.lua:3:7: warning: unused local `written`",
        "unused.lua:5:16: warning: unused local function `helper`",
        "unused.lua:11:14: warning: unused local `b`",
        "unused.lua:12:14: warning: unused local `inner`",
    ] {
        assert!(out.contains(expected), "{expected}\n in:\n{out}");
    }
    assert_eq!(out.matches(": warning: ").count(), 5, "{out}");
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every shipped plugin (the examples and the gateway's tenants) lints and
/// checks clean: no error and no warning.
#[test]
fn every_example_plugin_checks_clean() {
    let mut plugins = Vec::new();
    for folder in ["examples/plugins", "examples/gateway/plugins"] {
        let mut stack = vec![repo().join(folder)];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() && !path.ends_with("spec") {
                    stack.push(path);
                } else if path.extension().is_some_and(|e| e == "lua") {
                    plugins.push(path);
                }
            }
        }
    }
    assert!(plugins.len() >= 24, "{plugins:?}");
    for plugin in plugins {
        let out = Command::new(BIN)
            .arg("check")
            .arg(&plugin)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{}:\n{text}", plugin.display());
        assert!(
            !text.contains("error:") && !text.contains("warning:"),
            "{}:\n{text}",
            plugin.display()
        );
    }
}
