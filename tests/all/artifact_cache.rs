//! The on-disk compiled-guest cache (`LuaPluginRuntime::new()` uses it):
//! where it lives by default, that a later process loads the guest instead
//! of compiling it, and that a damaged file is ignored and rebuilt. Each
//! case runs in child processes of this test binary, since a process keeps
//! its compiled guest in memory after the first runtime.

use crate::common::*;
use bext_plugin_api::middleware::RequestAction;
use bext_plugin_lua_wasm::{
    ARTIFACT_CACHE_ENV, LuaPluginConfig, LuaPluginRuntime, default_artifact_cache_dir,
};
use std::path::{Path, PathBuf};
use std::process::Command;

const CHILD: &str = "BEXT_ARTIFACT_CACHE_CHILD";

/// Runs test `name` of this binary as a child with `env`; its stdout.
fn child(name: &str, env: &[(&str, &str)], remove: &[&str]) -> String {
    let mut command = Command::new(std::env::current_exe().unwrap());
    command
        .args(["--exact", name, "--nocapture", "--test-threads=1"])
        .env(CHILD, "1");
    for (key, value) in env {
        command.env(key, value);
    }
    for key in remove {
        command.env_remove(key);
    }
    let out = command.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{name}: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("bext-cache-test-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// The cache files in `dir` with their inode and length.
fn files(dir: &Path) -> Vec<(PathBuf, u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .map(|path| {
            let meta = std::fs::metadata(&path).unwrap();
            (path, meta.ino(), meta.len())
        })
        .collect();
    files.sort();
    files
}

#[test]
fn a_later_process_loads_the_compiled_guest_and_a_damaged_file_is_rebuilt() {
    const NAME: &str =
        "artifact_cache::a_later_process_loads_the_compiled_guest_and_a_damaged_file_is_rebuilt";
    if std::env::var_os(CHILD).is_some() {
        let runtime = LuaPluginRuntime::new();
        let plugin = runtime
            .load_plugin(LuaPluginConfig::new(
                "cached",
                manifest("cached"),
                "return { on_request = function() end }",
            ))
            .unwrap();
        assert!(matches!(
            plugin.try_on_request(&mut request("GET", "/", &[])),
            Ok(RequestAction::Continue)
        ));
        println!("CHILD OK");
        return;
    }
    let dir = temp_dir("reuse");
    let dir_text = dir.to_str().unwrap();
    assert!(child(NAME, &[(ARTIFACT_CACHE_ENV, dir_text)], &[]).contains("CHILD OK"));
    let first = files(&dir);
    assert_eq!(first.len(), 1, "one compiled snapshot: {first:?}");
    assert!(
        first[0].0.extension().is_some_and(|e| e == "cwasm"),
        "{first:?}"
    );

    child(NAME, &[(ARTIFACT_CACHE_ENV, dir_text)], &[]);
    assert_eq!(
        files(&dir),
        first,
        "the second process loaded the file instead of writing a new one"
    );

    // A damaged file (here: cut short) is ignored and replaced.
    let (path, _, _) = &first[0];
    let bytes = std::fs::read(path).unwrap();
    std::fs::write(path, &bytes[..bytes.len() / 2]).unwrap();
    let out = child(NAME, &[(ARTIFACT_CACHE_ENV, dir_text)], &[]);
    assert!(out.contains("CHILD OK"), "{out}");
    let rebuilt = files(&dir);
    assert_eq!(rebuilt.len(), 1, "{rebuilt:?}");
    assert!(
        rebuilt[0].2 > bytes.len() as u64 / 2,
        "rebuilt whole: {rebuilt:?}"
    );
    // The rebuilt file is sound: the next process loads it.
    child(NAME, &[(ARTIFACT_CACHE_ENV, dir_text)], &[]);
    assert_eq!(files(&dir), rebuilt);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_default_cache_folder_follows_the_environment() {
    const NAME: &str = "artifact_cache::the_default_cache_folder_follows_the_environment";
    if std::env::var_os(CHILD).is_some() {
        println!("DIR {:?}", default_artifact_cache_dir());
        return;
    }
    let dir = |env: &[(&str, &str)], remove: &[&str]| {
        let out = child(NAME, env, remove);
        // libtest prints the test's name on the same line before its output.
        out.lines()
            .find_map(|l| l.split_once("DIR "))
            .map(|(_, dir)| dir.trim().to_string())
            .unwrap_or_else(|| panic!("{out}"))
    };
    let all = [ARTIFACT_CACHE_ENV, "XDG_CACHE_HOME", "HOME"];
    assert_eq!(
        dir(
            &[(ARTIFACT_CACHE_ENV, "/srv/cache"), ("XDG_CACHE_HOME", "/x")],
            &[]
        ),
        r#"Some("/srv/cache")"#
    );
    assert_eq!(
        dir(
            &[(ARTIFACT_CACHE_ENV, "off"), ("XDG_CACHE_HOME", "/x")],
            &[]
        ),
        "None"
    );
    assert_eq!(
        dir(&[(ARTIFACT_CACHE_ENV, ""), ("XDG_CACHE_HOME", "/x")], &[]),
        "None"
    );
    assert_eq!(
        dir(
            &[("XDG_CACHE_HOME", "/x"), ("HOME", "/h")],
            &[ARTIFACT_CACHE_ENV]
        ),
        r#"Some("/x/bext-plugin-lua-wasm")"#
    );
    assert_eq!(
        dir(&[("HOME", "/h")], &[ARTIFACT_CACHE_ENV, "XDG_CACHE_HOME"]),
        r#"Some("/h/.cache/bext-plugin-lua-wasm")"#
    );
    assert_eq!(dir(&[], &all), "None");
}
