//! The folder source, watched by a reconciler thread.

use crate::common::*;
use bext_plugin_sources::{FolderSource, SourceError, SourceState};
use std::time::Duration;

fn source(dir: &TempDir) -> FolderSource {
    FolderSource::new(dir.path())
        .debounce(Duration::from_millis(50))
        .retry(Duration::from_millis(50))
}

#[test]
fn the_layout_loads_with_manifests_and_configs() {
    let dir = TempDir::new("layout");
    write_atomically(&dir.path().join("acme/ratelimit.lua"), ANSWERS_CONFIG);
    write_atomically(&dir.path().join("acme/hello.lua"), &answering("hello"));
    write_atomically(
        &dir.path().join("acme/config.json"),
        r#"{"ratelimit": {"limit": 100}}"#,
    );
    write_atomically(
        &dir.path().join("acme/manifest.json"),
        r#"{"ratelimit": {"version": "1.2.0", "capabilities": ["middleware"]}}"#,
    );
    write_atomically(&dir.path().join("globex/hello.lua"), &answering("globex"));
    // Ignored: hidden files and folders, other extensions.
    std::fs::write(dir.path().join("acme/.draft.lua"), BROKEN).unwrap();
    std::fs::write(dir.path().join("acme/notes.txt"), "x").unwrap();
    std::fs::create_dir_all(dir.path().join(".git")).unwrap();
    std::fs::write(dir.path().join(".git/x.lua"), BROKEN).unwrap();

    let r = reconciler();
    let rt = r.runtime().clone();
    let _watch = r.watch(source(&dir));
    wait_until("three plugins load", || rt.plugin_names().len() == 3);
    assert_eq!(
        rt.plugin_names(),
        ["acme/hello", "acme/ratelimit", "globex/hello"]
    );
    assert_eq!(
        served(&rt, "acme", "ratelimit").as_deref(),
        Some(r#"{"limit":100}"#)
    );
    assert_eq!(served(&rt, "acme", "hello").as_deref(), Some("hello"));
    assert_eq!(
        rt.plugin("acme/ratelimit").unwrap().manifest().version,
        "1.2.0"
    );
    let status = r
        .source_status(&format!("folder:{}", dir.path().display()))
        .unwrap();
    assert_eq!(status.state, SourceState::Live);
    assert_eq!(status.plugins, 3);
    assert!(r.plugin_statuses().iter().all(|s| s.last_error.is_none()));
}

#[test]
fn changes_reload_deletions_unload_and_broken_files_are_rejected() {
    let dir = TempDir::new("changes");
    let file = dir.path().join("acme/p.lua");
    write_atomically(&file, &answering("v1"));
    write_atomically(&dir.path().join("globex/q.lua"), &answering("q"));
    let r = reconciler();
    let rt = r.runtime().clone();
    let _watch = r.watch(source(&dir));
    wait_served(&rt, "acme", "p", "v1");

    write_atomically(&file, &answering("v2"));
    wait_served(&rt, "acme", "p", "v2");

    // A broken version: rejected, v2 keeps serving, the status says why.
    write_atomically(&file, BROKEN);
    wait_until("the broken version is rejected", || {
        matches!(
            r.plugin_status("acme", "p").and_then(|s| s.last_error),
            Some(SourceError::Rejected { .. })
        )
    });
    assert_eq!(served(&rt, "acme", "p").as_deref(), Some("v2"));

    // A config that is not JSON: every plugin of the tenant is a broken entry.
    std::fs::write(dir.path().join("acme/config.json"), "{not json").unwrap();
    write_atomically(&file, &answering("v3"));
    wait_until("the bad config is reported", || {
        matches!(
            r.plugin_status("acme", "p").and_then(|s| s.last_error),
            Some(SourceError::BadEntry { .. })
        )
    });
    assert_eq!(served(&rt, "acme", "p").as_deref(), Some("v2"));
    std::fs::remove_file(dir.path().join("acme/config.json")).unwrap();
    wait_served(&rt, "acme", "p", "v3");

    std::fs::remove_file(&file).unwrap();
    wait_until("acme/p is unloaded", || rt.plugin("acme/p").is_none());
    assert!(r.plugin_status("acme", "p").is_none());

    std::fs::remove_dir_all(dir.path().join("globex")).unwrap();
    wait_until("globex/q is unloaded", || rt.plugin("globex/q").is_none());
}

#[test]
fn files_being_written_are_not_read() {
    let dir = TempDir::new("half");
    let r = reconciler();
    let rt = r.runtime().clone();
    write_atomically(&dir.path().join("acme/p.lua"), &answering("v1"));
    let _watch = r.watch(source(&dir));
    wait_served(&rt, "acme", "p", "v1");

    // A hidden temporary file is never read, whatever it holds ...
    std::fs::write(dir.path().join("acme/.q.lua.tmp"), answering("temporary")).unwrap();
    std::fs::write(dir.path().join("acme/.q.lua"), answering("temporary")).unwrap();
    // ... and a write in pieces is read once it is quiet: the half is not
    // loaded as a version.
    let text = answering("whole");
    let (first, second) = text.split_at(text.len() / 2);
    {
        use std::io::Write;
        let mut out = std::fs::File::create(dir.path().join("acme/p.lua")).unwrap();
        out.write_all(first.as_bytes()).unwrap();
        out.flush().unwrap();
        out.write_all(second.as_bytes()).unwrap();
    }
    wait_served(&rt, "acme", "p", "whole");
    assert_eq!(rt.plugin_names(), ["acme/p"]);
}

#[test]
fn a_missing_folder_keeps_serving_and_is_picked_up_when_it_appears() {
    let parent = TempDir::new("missing");
    let root = parent.path().join("plugins");
    let r = reconciler();
    let rt = r.runtime().clone();
    let watch = r.watch(
        FolderSource::new(&root)
            .debounce(Duration::from_millis(50))
            .retry(Duration::from_millis(20)),
    );
    wait_until("the source reports the folder missing", || {
        matches!(watch.status().state, SourceState::Unreachable { .. })
    });
    assert!(matches!(
        watch.status().last_error,
        Some(SourceError::Unreachable { .. })
    ));

    write_atomically(&root.join("acme/p.lua"), &answering("appeared"));
    wait_served(&rt, "acme", "p", "appeared");
    assert_eq!(watch.status().state, SourceState::Live);

    // The whole root goes away (an unmounted volume): nothing is unloaded.
    std::fs::rename(&root, parent.path().join("elsewhere")).unwrap();
    wait_until("the source reports the folder gone", || {
        matches!(watch.status().state, SourceState::Unreachable { .. })
    });
    assert_eq!(served(&rt, "acme", "p").as_deref(), Some("appeared"));
    watch.stop();
}

/// The broken entry one read of `dir` reports for `name` (`tenant/plugin`):
/// its message, after checking it names the tenant and the plugin.
fn bad_entry(dir: &TempDir, name: &str) -> String {
    let set = source(dir).read().expect("the folder reads");
    match set.broken().get(name) {
        Some(SourceError::BadEntry {
            tenant,
            plugin,
            message,
            ..
        }) => {
            assert_eq!(format!("{tenant}/{plugin}"), name);
            message.clone()
        }
        other => panic!(
            "{name}: {other:?}, plugins {:?}",
            set.plugins().keys().collect::<Vec<_>>()
        ),
    }
}

#[test]
fn a_dangling_symbolic_link_is_a_bad_entry_logged_and_in_the_status() {
    // What `cp -r` of a tenant with relative links leaves.
    let dir = TempDir::new("dangling");
    write_atomically(&dir.path().join("acme/good.lua"), &answering("good"));
    let link = dir.path().join("acme/auth.lua");
    std::os::unix::fs::symlink("../../shared/auth.lua", &link).unwrap();
    let message = bad_entry(&dir, "acme/auth");
    assert!(
        message
            .contains("auth.lua is a symbolic link to ../../shared/auth.lua, which does not exist"),
        "{message}"
    );

    // Watched: the rest of the tenant loads, the entry is in the status
    // with the file's name, and fixing the link loads it.
    let r = reconciler();
    let rt = r.runtime().clone();
    let _watch = r.watch(source(&dir));
    wait_served(&rt, "acme", "good", "good");
    wait_until("the dangling link is reported", || {
        r.plugin_status("acme", "auth")
            .and_then(|s| s.last_error)
            .is_some_and(|e| {
                matches!(e, SourceError::BadEntry { .. })
                    && e.to_string().contains("tenant `acme` plugin `auth`")
                    && e.to_string().contains("auth.lua")
            })
    });
    assert!(rt.plugin("acme/auth").is_none());
    write_atomically(&dir.path().join("shared/auth.lua"), &answering("auth"));
    std::os::unix::fs::symlink("../shared/auth.lua", dir.path().join("acme/.auth.lua.new"))
        .unwrap();
    std::fs::rename(dir.path().join("acme/.auth.lua.new"), &link).unwrap();
    wait_served(&rt, "acme", "auth", "auth");
    assert!(
        r.plugin_status("acme", "auth")
            .unwrap()
            .last_error
            .is_none()
    );
}

#[test]
fn a_file_the_process_may_not_read_is_a_bad_entry() {
    use std::os::unix::fs::PermissionsExt;
    let dir = TempDir::new("denied");
    let file = dir.path().join("acme/secret.lua");
    write_atomically(&file, &answering("secret"));
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o000)).unwrap();
    if std::fs::read(&file).is_ok() {
        // Root reads a mode-000 file (CAP_DAC_OVERRIDE). A write-only
        // sysctl is a regular file that reading is denied to root too.
        let sysctl = std::path::Path::new("/proc/sys/vm/compact_memory");
        match std::fs::read(sysctl) {
            Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
                std::fs::remove_file(&file).unwrap();
                std::os::unix::fs::symlink(sysctl, &file).unwrap();
            }
            other => {
                eprintln!(
                    "skipped: this process reads a mode-000 file, and {} gives {other:?}: no file here is denied to it",
                    sysctl.display()
                );
                return;
            }
        }
    }
    let message = bad_entry(&dir, "acme/secret");
    assert!(
        message.contains("cannot read") && message.contains("secret.lua"),
        "{message}"
    );
    assert!(message.contains("Permission denied"), "{message}");
}

#[test]
fn a_directory_named_like_a_plugin_is_a_bad_entry() {
    let dir = TempDir::new("directory");
    std::fs::create_dir_all(dir.path().join("acme/auth.lua")).unwrap();
    let message = bad_entry(&dir, "acme/auth");
    assert!(
        message.contains("auth.lua is a directory, not a regular file"),
        "{message}"
    );
}

#[test]
fn a_fifo_named_like_a_plugin_is_a_bad_entry_and_never_opened() {
    let dir = TempDir::new("fifo");
    write_atomically(&dir.path().join("acme/good.lua"), &answering("good"));
    let fifo = dir.path().join("acme/auth.lua");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("running mkfifo");
    assert!(made.success());
    // Opening a FIFO for reading blocks until a writer comes: a read that
    // returns at all did not open it.
    let message = bad_entry(&dir, "acme/auth");
    assert!(
        message.contains("auth.lua is a FIFO, not a regular file"),
        "{message}"
    );
    let set = source(&dir).read().unwrap();
    assert!(set.plugins().contains_key("acme/good"));
}
