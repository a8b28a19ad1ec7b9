//! Differential conformance: the same Lua programs on the wasm guest (full
//! profile, `bext-lua run`'s runner, output captured) and on native Lua 5.4
//! (mlua, vendored), with outputs compared exactly.
//!
//! * The corpus: `tests/conformance/*.lua`, snippets separated by lines
//!   `--- name`; each snippet runs in a fresh state on both sides. A snippet
//!   whose header ends in `[differs: KEY]` is a known difference: the test
//!   requires the outputs to differ (so a fix is noticed) and KEY to be
//!   explained in KNOWN_DIFFERENCES.md.
//! * The generator: seeded random expressions and string operations, at
//!   least 10,000 cases, compared the same way.
//! * Lua's C-stack limit: deep gsub/pcall/parser nesting raises Lua's
//!   catchable "C stack overflow" instead of trapping, in the plugin sandbox
//!   and in the full profile.

mod common;

use bext_lua_wasm_suite::native;
use bext_plugin_api::middleware::RequestAction;
use bext_plugin_lua_wasm::runner::{LuaRunner, RunOptions};
use bext_plugin_lua_wasm::{Error, LuaPluginConfig, LuaPluginRuntime, LuaRuntimeConfig};
use std::path::PathBuf;
use std::sync::OnceLock;

fn runner() -> &'static LuaRunner {
    static RUNNER: OnceLock<LuaRunner> = OnceLock::new();
    RUNNER.get_or_init(|| LuaRunner::new().expect("creating the full-profile runner"))
}

/// What one program printed on each side.
#[derive(Debug)]
struct Compared {
    wasm_stdout: String,
    wasm_stderr: String,
    wasm_exit: i32,
    native_stdout: String,
    native_error: Option<String>,
}

impl Compared {
    fn same(&self) -> bool {
        self.wasm_exit == 0 && self.native_error.is_none() && self.wasm_stdout == self.native_stdout
    }
}

fn compare(source: &str) -> Compared {
    let wasm = runner().run(&RunOptions::captured_source(source)).expect("running on the wasm guest");
    let native = native::run_captured(source);
    Compared {
        wasm_stdout: String::from_utf8_lossy(&wasm.stdout).into_owned(),
        wasm_stderr: String::from_utf8_lossy(&wasm.stderr).into_owned(),
        wasm_exit: wasm.exit_code,
        native_stdout: String::from_utf8_lossy(&native.stdout).into_owned(),
        native_error: native.error,
    }
}

/// The first line where two outputs differ, for messages.
fn first_difference(a: &str, b: &str) -> String {
    for (i, (x, y)) in a.lines().zip(b.lines()).enumerate() {
        if x != y {
            return format!("line {}:\n  wasm:   {x}\n  native: {y}", i + 1);
        }
    }
    format!("lengths differ: wasm {} lines, native {} lines", a.lines().count(), b.lines().count())
}

struct Snippet {
    file: String,
    name: String,
    /// `[differs: KEY]` in the header.
    differs: Option<String>,
    source: String,
}

fn corpus() -> Vec<Snippet> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/conformance");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "lua"))
        .collect();
    files.sort();
    let mut snippets = Vec::new();
    for path in files {
        let file = path.file_name().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(&path).unwrap();
        let mut current: Option<Snippet> = None;
        for line in text.lines() {
            if let Some(header) = line.strip_prefix("--- ") {
                snippets.extend(current.take());
                let (name, differs) = match header.split_once("[differs: ") {
                    Some((name, key)) => (name.trim().to_string(), Some(key.trim_end_matches(']').trim().to_string())),
                    None => (header.trim().to_string(), None),
                };
                current = Some(Snippet { file: file.clone(), name, differs, source: String::new() });
            } else if let Some(snippet) = current.as_mut() {
                snippet.source.push_str(line);
                snippet.source.push('\n');
            }
        }
        snippets.extend(current.take());
    }
    snippets
}

#[test]
fn corpus_gives_the_same_output_on_wasm_and_native_lua() {
    let snippets = corpus();
    let known = std::fs::read_to_string(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("KNOWN_DIFFERENCES.md")).unwrap();
    let mut failures = Vec::new();
    for snippet in &snippets {
        assert!(!snippet.source.trim().is_empty(), "{}: `{}` is empty", snippet.file, snippet.name);
        let result = compare(&snippet.source);
        let label = format!("{} / {}", snippet.file, snippet.name);
        match &snippet.differs {
            None if !result.same() => failures.push(format!(
                "{label}: {}\n  wasm exit {} stderr: {}\n  native error: {:?}",
                first_difference(&result.wasm_stdout, &result.native_stdout),
                result.wasm_exit,
                result.wasm_stderr.trim(),
                result.native_error
            )),
            Some(key) if result.same() => {
                failures.push(format!("{label}: marked [differs: {key}] but the outputs are now the same"))
            }
            Some(key) if !known.contains(&format!("`{key}`")) => {
                failures.push(format!("{label}: difference `{key}` is not explained in KNOWN_DIFFERENCES.md"))
            }
            _ => {}
        }
    }
    let differing = snippets.iter().filter(|s| s.differs.is_some()).count();
    println!("{} snippets, {differing} known differences", snippets.len());
    assert!(failures.is_empty(), "{} of {} snippets failed:\n{}", failures.len(), snippets.len(), failures.join("\n"));
    assert!(snippets.len() >= 300, "the corpus has only {} snippets", snippets.len());
}
