//! `bext-lua run` as a drop-in `lua`, as processes: the compiled guest cached
//! in the per-user cache folder (reused, replaced when corrupt, shared by
//! concurrent first runs, skipped with `--no-cache` or when the folder is
//! not private), and the places where the full profile's output depends on
//! the environment, compared with Debian's `lua5.4` (installed by
//! `scripts/bootstrap`).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::common::TempDir;

const BIN: &str = env!("CARGO_BIN_EXE_bext-lua");

/// `bext-lua ARGS` with `XDG_CACHE_HOME=cache_home`.
fn bext_lua(cache_home: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(BIN);
    command
        .args(args)
        .env("XDG_CACHE_HOME", cache_home)
        .env_remove("BEXT_LUA_WASM_CACHE_DIR")
        .current_dir(env!("CARGO_MANIFEST_DIR"));
    command
}

fn run_ok(command: &mut Command) -> Output {
    let output = command.output().expect("starting bext-lua");
    assert!(
        output.status.success(),
        "{command:?} failed: {}\nstderr: {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// The files in `dir` (none when it does not exist), sorted.
fn files_in(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = match std::fs::read_dir(dir) {
        Ok(entries) => entries.map(|e| e.unwrap().path()).collect(),
        Err(_) => Vec::new(),
    };
    files.sort();
    files
}

/// The one compiled guest in the cache, after asserting there is only it.
fn only_artifact(cache: &Path) -> PathBuf {
    let files = files_in(cache);
    assert_eq!(
        files.len(),
        1,
        "expected one compiled guest in {}: {files:?}",
        cache.display()
    );
    let file = files[0].clone();
    assert!(
        file.extension().is_some_and(|e| e == "cwasm"),
        "{}",
        file.display()
    );
    file
}

fn print_one(home: &Path) -> String {
    let output = run_ok(&mut bext_lua(home, &["run", "-e", "print(1)"]));
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// A cache home after one run: (home, its bext-plugin-lua-wasm folder, the compiled guest).
fn after_first_run(tag: &str) -> (TempDir, PathBuf, PathBuf) {
    let home = TempDir::new(tag);
    let cache = home.0.join("bext-plugin-lua-wasm");
    assert_eq!(print_one(&home.0), "1\n");
    let artifact = only_artifact(&cache);
    (home, cache, artifact)
}

#[test]
fn the_compiled_guest_is_cached_in_a_private_per_user_folder_and_reused() {
    let (home, cache, artifact) = after_first_run("cache");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&cache).unwrap().permissions().mode();
        assert_eq!(
            mode & 0o777,
            0o700,
            "the cache folder must be private: {mode:o}"
        );
    }
    let written = std::fs::metadata(&artifact).unwrap().modified().unwrap();
    assert_eq!(print_one(&home.0), "1\n");
    assert_eq!(only_artifact(&cache), artifact);
    assert_eq!(
        std::fs::metadata(&artifact).unwrap().modified().unwrap(),
        written,
        "a warm run must not rewrite the cache"
    );
}

#[test]
fn a_corrupt_or_truncated_cache_file_is_ignored_and_replaced() {
    let (home, _, artifact) = after_first_run("corrupt");
    let good = std::fs::read(&artifact).unwrap();

    let damaged: [(&str, &[u8]); 2] = [
        ("corrupt", b"\x7fELF not a compiled module at all"),
        ("truncated", &good[..good.len() / 2]),
    ];
    for (what, contents) in damaged {
        std::fs::write(&artifact, contents).unwrap();
        assert_eq!(print_one(&home.0), "1\n", "with a {what} cache file");
        assert_eq!(
            std::fs::read(&artifact).unwrap(),
            good,
            "the {what} file was not replaced"
        );
    }
}

#[test]
fn concurrent_first_runs_share_one_cache_file() {
    let home = TempDir::new("concurrent");
    let children: Vec<_> = (0..4)
        .map(|i| {
            bext_lua(&home.0, &["run", "-e", &format!("print({i})")])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .expect("starting bext-lua")
        })
        .collect();
    for (i, child) in children.into_iter().enumerate() {
        let output = child.wait_with_output().unwrap();
        assert!(
            output.status.success(),
            "run {i}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        assert_eq!(String::from_utf8_lossy(&output.stdout), format!("{i}\n"));
    }
    // One artifact and no temporary file left behind.
    only_artifact(&home.0.join("bext-plugin-lua-wasm"));
    assert_eq!(print_one(&home.0), "1\n");
}

#[test]
fn no_cache_compiles_in_the_process_and_writes_nothing() {
    let home = TempDir::new("no-cache");
    for args in [
        &["--no-cache", "run", "-e", "print(1)"][..],
        &["run", "--no-cache", "-e", "print(1)"][..],
    ] {
        let output = run_ok(&mut bext_lua(&home.0, args));
        assert_eq!(String::from_utf8_lossy(&output.stdout), "1\n");
    }
    assert!(
        files_in(&home.0).is_empty(),
        "--no-cache wrote {:?}",
        files_in(&home.0)
    );
}

#[cfg(unix)]
#[test]
fn a_cache_folder_others_can_write_to_is_not_used() {
    use std::os::unix::fs::PermissionsExt;
    let home = TempDir::new("shared");
    let cache = home.0.join("bext-plugin-lua-wasm");
    std::fs::create_dir(&cache).unwrap();
    std::fs::set_permissions(&cache, std::fs::Permissions::from_mode(0o777)).unwrap();
    let output = run_ok(&mut bext_lua(&home.0, &["run", "-e", "print(1)"]));
    assert_eq!(String::from_utf8_lossy(&output.stdout), "1\n");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("not caching the compiled guest")
            && stderr.contains("writable by other users"),
        "{stderr}"
    );
    assert!(
        files_in(&cache).is_empty(),
        "a shared folder was used: {:?}",
        files_in(&cache)
    );
}

#[test]
fn check_try_and_bench_use_the_same_cache_folder() {
    let home = TempDir::new("plugins");
    let plugin = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/plugins/ratelimit.lua");
    run_ok(&mut bext_lua(&home.0, &["check", plugin.to_str().unwrap()]));
    // The plugin commands cache the compiled plugin snapshot there.
    let files = files_in(&home.0.join("bext-plugin-lua-wasm"));
    assert_eq!(files.len(), 1, "{files:?}");
    run_ok(&mut bext_lua(&home.0, &["check", plugin.to_str().unwrap()]));
    assert_eq!(files_in(&home.0.join("bext-plugin-lua-wasm")), files);
}

/// `lua5.4` with exactly the environment `vars`.
fn system_lua(chunk: &str, vars: &[(&str, &str)]) -> String {
    let output = Command::new("lua5.4")
        .args(["-e", chunk])
        .env_clear()
        .envs(vars.iter().copied())
        .output()
        .expect("running lua5.4: install it with scripts/bootstrap");
    assert!(
        output.status.success(),
        "lua5.4: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// `bext-lua run` with exactly the environment `vars` (and its cache).
fn ours(home: &Path, chunk: &str, vars: &[(&str, &str)]) -> String {
    let mut command = bext_lua(home, &["run", "-e", chunk]);
    command
        .env_clear()
        .env("XDG_CACHE_HOME", home)
        .envs(vars.iter().copied());
    String::from_utf8_lossy(&run_ok(&mut command).stdout).into_owned()
}

#[test]
fn setlocale_of_the_empty_name_follows_the_environment_as_lua_does() {
    let home = TempDir::new("locale");
    let chunk = r#"print(os.setlocale(""), os.setlocale("", "numeric"), os.setlocale(), os.setlocale("pt_BR"))
        print(os.setlocale("C.utf8", "numeric"), os.setlocale(), os.setlocale("POSIX", "time"), os.setlocale(nil, "time"))"#;
    let environments: [&[(&str, &str)]; 9] = [
        &[],
        &[("LANG", "C.UTF-8")],
        &[("LANG", "xx_NOWHERE.UTF-8")],
        &[("LC_ALL", "POSIX"), ("LANG", "xx_NOWHERE")],
        &[("LC_NUMERIC", "xx_NOWHERE")],
        &[("LC_ALL", "xx_NOWHERE"), ("LANG", "C")],
        &[("LC_CTYPE", "C.UTF-8")],
        &[("LC_MESSAGES", "C.UTF-8"), ("LANG", "C")],
        &[("LC_PAPER", "xx_NOWHERE")],
    ];
    for vars in environments {
        assert_eq!(
            ours(&home.0, chunk, vars),
            system_lua(chunk, vars),
            "environment {vars:?}"
        );
    }
}
