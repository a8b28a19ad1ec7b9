//! The editor definitions in `types/` (LuaLS `---@meta` files, what
//! `bext-lua types` prints) against what a plugin really gets: the names in
//! the guest's `bext` table, enumerated inside a sandbox, and the methods of
//! the runtime's capability table. Nothing missing, nothing invented.

use crate::common;
use bext_lua_wasm_suite::cli::types::{DEFINITIONS, luarc_json};
use bext_plugin_lua_wasm::{CAPABILITIES, capability_methods};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const BIN: &str = env!("CARGO_BIN_EXE_bext-lua");

fn definition(name: &str) -> &'static str {
    DEFINITIONS
        .iter()
        .find(|(file, _)| *file == name)
        .map(|(_, text)| *text)
        .unwrap_or_else(|| panic!("no definition file {name}"))
}

/// The names `types/bext.lua` declares: `log`, `json`, `json.encode`,
/// `shared.get`, ... by the file's stated convention.
fn declared_bext_names() -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for line in definition("bext.lua").lines() {
        let ident = |rest: &str| -> String {
            rest.chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect()
        };
        if let Some(rest) = line.strip_prefix("function Json.") {
            names.insert(format!("json.{}", ident(rest)));
        } else if let Some(rest) = line.strip_prefix("function SharedDict:") {
            names.insert(format!("shared.{}", ident(rest)));
        } else if let Some(rest) = line.strip_prefix("function bext.") {
            names.insert(ident(rest));
        } else if let Some(rest) = line.strip_prefix("Json.") {
            names.insert(format!("json.{}", ident(rest)));
        } else if let Some(rest) = line.strip_prefix("bext.")
            && rest.contains(" = ")
        {
            names.insert(ident(rest));
        }
    }
    names
}

/// The names the guest's `bext` table holds, walked with `pairs` in a sandbox.
fn guest_bext_names() -> BTreeSet<String> {
    let plugin = common::load(
        "definitions-walk",
        r#"
        local function walk(t, prefix, out)
          for k, v in pairs(t) do
            out[#out + 1] = prefix .. k
            if type(v) == "table" then walk(v, prefix .. k .. ".", out) end
          end
          return out
        end
        return {
          matches = function(self) return true end,
          transform = function(self) return table.concat(walk(bext, "", {}), "\n") end,
        }
        "#,
    )
    .unwrap();
    common::transform_lines(&plugin)
}

#[test]
fn the_bext_definitions_name_exactly_what_the_guest_installs() {
    let declared = declared_bext_names();
    let guest = guest_bext_names();
    assert!(guest.contains("shared.incr") && guest.contains("json.null"));
    let missing: Vec<_> = guest.difference(&declared).collect();
    let invented: Vec<_> = declared.difference(&guest).collect();
    assert!(
        missing.is_empty() && invented.is_empty(),
        "types/bext.lua lacks {missing:?} and declares {invented:?}, which the guest does not have"
    );
}

/// `---@class bext.<Trait>: bext.Plugin` blocks of `types/plugin.lua`: the
/// trait name and its `---@field` names, with whether each is optional.
fn declared_plugin_classes() -> BTreeMap<String, BTreeMap<String, bool>> {
    let mut classes = BTreeMap::new();
    let mut current: Option<(String, BTreeMap<String, bool>)> = None;
    for line in definition("plugin.lua").lines() {
        if let Some(rest) = line.strip_prefix("---@class bext.")
            && let Some(name) = rest.strip_suffix(": bext.Plugin")
        {
            current = Some((name.to_string(), BTreeMap::new()));
            continue;
        }
        if let Some((_, fields)) = current.as_mut()
            && let Some(rest) = line.strip_prefix("---@field ")
        {
            let name = rest.split_whitespace().next().unwrap();
            let optional = name.ends_with('?');
            fields.insert(name.trim_end_matches('?').to_string(), optional);
            continue;
        }
        if let Some((name, fields)) = current.take() {
            classes.insert(name, fields);
        }
    }
    if let Some((name, fields)) = current {
        classes.insert(name, fields);
    }
    classes
}

#[test]
fn the_plugin_definitions_match_the_capability_table() {
    let classes = declared_plugin_classes();
    let traits: BTreeSet<&str> = CAPABILITIES.iter().map(|row| row.trait_name).collect();
    let declared: BTreeSet<&str> = classes.keys().map(String::as_str).collect();
    assert_eq!(declared, traits, "one plugin class per capability trait");
    for row in CAPABILITIES {
        assert_eq!(
            capability_methods(row.capability).trait_name,
            row.trait_name
        );
        let fields = &classes[row.trait_name];
        let expected: BTreeMap<String, bool> = row
            .required
            .iter()
            .map(|m| (m.to_string(), false))
            .chain(row.optional.iter().map(|m| (m.to_string(), true)))
            .collect();
        assert_eq!(
            fields, &expected,
            "bext.{} in types/plugin.lua (method -> optional) against the runtime's table",
            row.trait_name
        );
    }
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn the_examples_folder_uses_the_shipped_definitions() {
    let luarc = std::fs::read_to_string(repo().join("examples/plugins/.luarc.json")).unwrap();
    assert_eq!(luarc, luarc_json("../../types"));
    for (name, text) in DEFINITIONS {
        assert!(text.starts_with("---@meta"), "{name} is a meta file");
        assert!(repo().join("types").join(name).is_file());
    }
}

#[test]
fn types_prints_and_writes_the_definitions() {
    let out = std::process::Command::new(BIN)
        .arg("types")
        .output()
        .unwrap();
    assert!(out.status.success());
    let printed = String::from_utf8(out.stdout).unwrap();
    for (name, text) in DEFINITIONS {
        assert!(printed.contains(&format!("-- ==== types/{name} ====\n{text}")));
    }
    let dir = common::TempDir::new("types");
    let out = std::process::Command::new(BIN)
        .args(["types", "--out"])
        .arg(&dir.0)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let read = |path: &Path| std::fs::read_to_string(dir.0.join(path)).unwrap();
    for (name, text) in DEFINITIONS {
        assert_eq!(read(&Path::new("types").join(name)), text);
    }
    let luarc: serde_json::Value = serde_json::from_str(&read(Path::new(".luarc.json"))).unwrap();
    assert_eq!(luarc["workspace.library"], serde_json::json!(["types"]));
    assert_eq!(luarc["runtime.builtin"]["io"], "disable");
}

/// Every example plugin type-checks clean against `types/` with EmmyLua's
/// checker (reads LuaLS annotations; `scripts/bootstrap` installs it). The
/// specs (`spec/`) are left out: EmmyLua's own `assert` function cannot be
/// redeclared as busted's assertion table.
#[test]
fn the_example_plugins_type_check_clean() {
    let Ok(out) = std::process::Command::new("emmylua_check")
        .arg(repo().join("examples/plugins"))
        .args(["--ignore", "spec/**", "--warnings-as-errors"])
        .output()
    else {
        eprintln!("skipped: emmylua_check is not installed (scripts/bootstrap installs it)");
        return;
    };
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "emmylua_check examples/plugins:\n{report}"
    );
    assert!(
        !report.contains("warning:") && !report.contains("error:"),
        "{report}"
    );
}
