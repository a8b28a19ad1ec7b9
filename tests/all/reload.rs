//! Hot reload: atomic swap under concurrent calls, failed reloads leave the
//! old version serving, on_reload runs on the new version, unload.

use crate::common::*;
use bext_plugin_api::middleware::RequestAction;
use bext_plugin_lua_wasm::{Error, LuaPluginConfig};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

fn version_script(version: u32) -> String {
    format!(
        r#"local reloaded = "no"
           return {{
             on_reload = function(self) reloaded = "yes" end,
             on_request = function(self, ctx)
               return bext.middleware_respond('{{"status":200,"body":"{version} ' .. reloaded .. '"}}')
             end }}"#
    )
}

fn served(name: &str) -> String {
    let plugin = runtime().plugin(name).expect("registered");
    match plugin
        .try_on_request(&mut request("GET", "/", &[]))
        .unwrap()
    {
        RequestAction::Respond(r) => String::from_utf8(r.body).unwrap(),
        RequestAction::Continue => panic!("expected a response"),
    }
}

fn load_version(name: &str, version: u32) -> Result<(), Error> {
    runtime()
        .load_plugin(LuaPluginConfig::new(
            name,
            manifest(name),
            version_script(version),
        ))
        .map(drop)
}

#[test]
fn reload_swaps_versions_and_runs_on_reload_on_the_new_one() {
    load_version("versioned", 1).unwrap();
    assert_eq!(served("versioned"), "1 no", "a first load is not a reload");
    load_version("versioned", 2).unwrap();
    assert_eq!(served("versioned"), "2 yes");
}

#[test]
fn a_failed_reload_leaves_the_old_version_serving() {
    load_version("sturdy", 1).unwrap();
    let broken = runtime().load_plugin(LuaPluginConfig::new(
        "sturdy",
        manifest("sturdy"),
        "return {",
    ));
    assert!(matches!(broken, Err(Error::Syntax { .. })));
    let throws_on_reload =
        "return { on_reload = function() error('not today') end, on_request = function() end }";
    let refused = runtime().load_plugin(LuaPluginConfig::new(
        "sturdy",
        manifest("sturdy"),
        throws_on_reload,
    ));
    assert!(
        matches!(refused, Err(Error::Lua { ref method, .. }) if method == "on_reload"),
        "{refused:?}"
    );
    assert_eq!(served("sturdy"), "1 no");
}

#[test]
fn reload_under_concurrent_calls_loses_no_call() {
    load_version("hot", 0).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let callers: Vec<_> = (0..4)
        .map(|_| {
            let stop = stop.clone();
            std::thread::spawn(move || {
                let (mut calls, mut last) = (0u32, 0u32);
                let mut call = || {
                    // Every call succeeds, on the old or the new version, and
                    // a thread never goes back to an older version.
                    let version: u32 = served("hot").split(' ').next().unwrap().parse().unwrap();
                    assert!(version >= last, "went back from {last} to {version}");
                    last = version;
                    calls += 1;
                };
                while !stop.load(Ordering::Acquire) {
                    call();
                }
                call(); // after the last swap
                (calls, last)
            })
        })
        .collect();
    for version in 1..=20 {
        load_version("hot", version).unwrap();
    }
    stop.store(true, Ordering::Release);
    for caller in callers {
        let (calls, last) = caller.join().unwrap();
        assert!(calls > 0);
        assert_eq!(last, 20, "every caller ends on the newest version");
    }
}

#[test]
fn in_flight_calls_finish_on_the_old_version() {
    load_version("in-flight", 1).unwrap();
    let old = runtime().plugin("in-flight").unwrap();
    let mut held = old.acquire().unwrap();
    load_version("in-flight", 2).unwrap();
    let action = held.call_json("on_request", &["{}"]).unwrap().unwrap();
    assert!(action.contains(r#""body":"1 no""#), "{action}");
    assert_eq!(served("in-flight"), "2 yes");
}

#[test]
fn unload_removes_the_plugin_and_frees_its_sandboxes() {
    load_version("gone", 1).unwrap();
    let weak = {
        let plugin = runtime().unload_plugin("gone").expect("was loaded");
        assert!(runtime().plugin("gone").is_none());
        plugin.downgrade()
    };
    assert!(
        weak.upgrade().is_none(),
        "no handle keeps the sandboxes alive after unload"
    );
}

#[test]
fn a_reload_that_drops_a_method_is_refused_unless_allowed() {
    // The manifest declares no capabilities, so no capability check would
    // notice that `on_request` is gone.
    let both = "return { on_request = function() end, on_response = function() end }";
    let fewer = "return { on_response = function() end, helper = function() end }";
    runtime()
        .load_plugin(LuaPluginConfig::new(
            "shrinking",
            manifest("shrinking"),
            both,
        ))
        .unwrap();
    let refused = runtime().load_plugin(LuaPluginConfig::new(
        "shrinking",
        manifest("shrinking"),
        fewer,
    ));
    match &refused {
        Err(e @ Error::MethodsRemoved { plugin, methods }) => {
            assert_eq!(
                (plugin.as_str(), methods.as_slice()),
                ("shrinking", &["on_request".to_string()][..])
            );
            assert!(
                e.to_string().contains("reload refused") && e.to_string().contains("`on_request`"),
                "{e}"
            );
        }
        other => panic!("{other:?}"),
    }
    let running = runtime().plugin("shrinking").unwrap();
    assert!(
        running.has_method("on_request"),
        "the running version keeps serving"
    );
    assert!(matches!(
        running.try_on_request(&mut request("GET", "/", &[])),
        Ok(RequestAction::Continue)
    ));
    // Adding methods is always fine; removing them is an explicit choice.
    let allowed = LuaPluginConfig::new("shrinking", manifest("shrinking"), fewer)
        .allow_removing_methods(true);
    runtime().load_plugin(allowed).unwrap();
    let running = runtime().plugin("shrinking").unwrap();
    assert!(!running.has_method("on_request") && running.has_method("helper"));
    assert!(matches!(
        running.try_on_request(&mut request("GET", "/", &[])),
        Err(Error::MissingMethod { .. })
    ));
}

#[test]
fn the_plugin_name_can_come_from_the_manifest_alone() {
    let plugin = runtime()
        .load_plugin(LuaPluginConfig::from_manifest(
            manifest("named-once"),
            "return {}",
        ))
        .unwrap();
    assert_eq!(plugin.name(), "named-once");
    assert!(runtime().plugin("named-once").is_some());
}
