//! CacheBackend through `Arc<dyn CacheBackend>`: the reference in-memory
//! cache (examples/plugins/cache.lua), the script conventions, and bad
//! results.

use crate::common::*;
use bext_plugin_api::CacheBackend;
use bext_plugin_api::cache::CacheEntry;
use bext_plugin_lua_wasm::{Error, LuaPlugin};
use std::sync::Arc;

fn entry(html: &str, tags: &[&str]) -> CacheEntry {
    CacheEntry {
        html: html.into(),
        headers: vec![
            ("content-type".into(), "text/html".into()),
            ("x-dup".into(), "1".into()),
            ("x-dup".into(), "2".into()),
        ],
        etag: format!("\"{}\"", html.len()),
        tags: tags.iter().map(|t| t.to_string()).collect(),
        created_at_ms: 1_700_000_000_123,
    }
}

/// Compares entries field by field (CacheEntry has no PartialEq).
fn assert_same(got: &CacheEntry, want: &CacheEntry) {
    assert_eq!(
        (
            &got.html,
            &got.headers,
            &got.etag,
            &got.tags,
            got.created_at_ms
        ),
        (
            &want.html,
            &want.headers,
            &want.etag,
            &want.tags,
            want.created_at_ms
        )
    );
}

fn reference_cache() -> Arc<dyn CacheBackend> {
    Arc::new(load("memory-cache", &example_plugin("cache.lua")).unwrap())
}

#[test]
fn reference_cache_stores_gets_and_deletes() {
    let cache = reference_cache();
    assert_eq!(cache.name(), "memory-cache");
    assert!(cache.is_healthy());
    assert!(cache.get("/a").unwrap().is_none());
    let a = entry("<h1>a</h1>", &["posts"]);
    cache.set("/a", a.clone(), None).unwrap();
    assert_same(&cache.get("/a").unwrap().unwrap(), &a);
    // Overwrite.
    let a2 = entry("<h1>a, again</h1>", &[]);
    cache.set("/a", a2.clone(), Some(60_000)).unwrap();
    assert_same(&cache.get("/a").unwrap().unwrap(), &a2);
    assert!(cache.delete("/a").unwrap());
    assert!(
        !cache.delete("/a").unwrap(),
        "a second delete finds nothing"
    );
    assert!(cache.get("/a").unwrap().is_none());
}

#[test]
fn reference_cache_expires_entries_by_ttl() {
    let cache = reference_cache();
    cache
        .set("/long", entry("long", &[]), Some(3_600_000))
        .unwrap();
    cache.set("/forever", entry("forever", &[]), None).unwrap();
    // A TTL of 0 ms is already over when the next call looks.
    cache.set("/gone", entry("gone", &[]), Some(0)).unwrap();
    let logs = capture_logs(|| assert!(cache.get("/gone").unwrap().is_none()));
    assert!(
        logs.contains("kind=expired") && logs.contains("key=/gone"),
        "{logs}"
    );
    assert!(cache.get("/long").unwrap().is_some());
    assert!(cache.get("/forever").unwrap().is_some());
    // TTLs beyond i64 reach the script as the largest integer, not an error.
    cache
        .set("/huge-ttl", entry("h", &[]), Some(u64::MAX))
        .unwrap();
    assert!(cache.get("/huge-ttl").unwrap().is_some());
}

#[test]
fn reference_cache_invalidates_by_tag_and_path_glob() {
    let cache = reference_cache();
    cache
        .set("/blog/one", entry("1", &["blog", "home"]), None)
        .unwrap();
    cache.set("/blog/two", entry("2", &["blog"]), None).unwrap();
    cache
        .set("/blog/2024/three", entry("3", &[]), None)
        .unwrap();
    cache
        .set("/about", entry("about", &["home"]), None)
        .unwrap();
    cache.set("/a.b", entry("dot", &[]), None).unwrap();

    assert_eq!(cache.invalidate_tag("blog").unwrap(), 2);
    assert_eq!(cache.invalidate_tag("blog").unwrap(), 0);
    assert!(cache.get("/blog/one").unwrap().is_none());
    assert!(
        cache.get("/about").unwrap().is_some(),
        "other tags untouched"
    );
    assert_eq!(
        cache.invalidate_tag("home").unwrap(),
        1,
        "the dropped entry left the tag index"
    );

    cache.set("/blog/one", entry("1", &[]), None).unwrap();
    assert_eq!(
        cache.invalidate_path("/blog/*").unwrap(),
        2,
        "`*` spans slashes"
    );
    assert_eq!(
        cache.invalidate_path("/a?b").unwrap(),
        1,
        "`?` is one character; `.` is literal"
    );
    assert_eq!(cache.invalidate_path("/nothing*").unwrap(), 0);
}

#[test]
fn reference_cache_evicts_the_oldest_beyond_max_entries() {
    let plugin = runtime()
        .load_plugin(
            bext_plugin_lua_wasm::LuaPluginConfig::new(
                "small-cache",
                manifest("small-cache"),
                example_plugin("cache.lua"),
            )
            .config_json(r#"{"max_entries": 2}"#),
        )
        .unwrap();
    let cache: Arc<dyn CacheBackend> = Arc::new(plugin);
    for key in ["/1", "/2", "/3"] {
        cache.set(key, entry(key, &[]), None).unwrap();
    }
    assert!(cache.get("/1").unwrap().is_none(), "evicted");
    assert!(cache.get("/2").unwrap().is_some() && cache.get("/3").unwrap().is_some());
}

#[test]
fn keys_pass_through_unchanged() {
    let cache = reference_cache();
    for key in [
        "",
        "/ünïcödé/✓",
        "with\0nul",
        "quote\"and\\backslash",
        "/é?x=1&y=*",
    ] {
        cache.set(key, entry(key, &[key]), None).unwrap();
        assert_eq!(cache.get(key).unwrap().unwrap().html, key, "{key:?}");
        assert_eq!(cache.invalidate_tag(key).unwrap(), 1, "{key:?}");
    }
}

#[test]
fn set_receives_entry_json_and_ttl_as_documented() {
    let plugin = load(
        "set-echo",
        r#"local last
           return {
             get = function(self, key) return last end,
             set = function(self, key, entry_json, ttl_ms)
               local e = bext.json.decode(entry_json)
               e.html = key .. "|" .. (ttl_ms == nil and "nil" or math.type(ttl_ms) .. ":" .. ttl_ms)
               last = e
             end,
             delete = function() return false end,
             invalidate_tag = function() return 0 end,
             invalidate_path = function() return 0 end,
           }"#,
    )
    .unwrap();
    let cache: Arc<dyn CacheBackend> = Arc::new(plugin);
    let e = entry("x", &["t1", "t2"]);
    cache.set("/k", e.clone(), Some(1500)).unwrap();
    let got = cache.get("/k").unwrap().unwrap();
    assert_eq!(got.html, "/k|integer:1500");
    assert_same(
        &CacheEntry {
            html: e.html.clone(),
            ..got
        },
        &e,
    );
    cache.set("/k", e, None).unwrap();
    assert_eq!(cache.get("/k").unwrap().unwrap().html, "/k|nil");
}

/// A cache whose `get` returns `expr` (a Lua expression) and whose counts
/// return `count`.
fn cache_returning(name: &str, get_expr: &str, count_expr: &str) -> LuaPlugin {
    load(
        name,
        &format!(
            "return {{
               get = function(self, key) return {get_expr} end,
               set = function() end,
               delete = function(self, key) return {count_expr} end,
               invalidate_tag = function(self, tag) return {count_expr} end,
               invalidate_path = function(self, pattern) return {count_expr} end,
             }}"
        ),
    )
    .unwrap()
}

#[test]
fn get_accepts_a_table_and_defaults_optional_fields() {
    let plugin = cache_returning(
        "table-entry",
        "{ html = '<p>' .. key .. '</p>', headers = {}, tags = {} }",
        "0",
    );
    let got = plugin.try_cache_get("/t").unwrap().unwrap();
    assert_eq!(
        (got.html.as_str(), got.etag.as_str(), got.created_at_ms),
        ("<p>/t</p>", "", 0)
    );
    assert!(
        got.headers.is_empty() && got.tags.is_empty(),
        "empty tables (JSON objects) read as empty lists"
    );
    let plugin = cache_returning(
        "table-entry-full",
        "{ html = 'h', headers = { { 'a', '1' }, { 'a', '2' } }, etag = 'e', tags = { 'x' }, created_at_ms = 42 }",
        "0",
    );
    let got = plugin.try_cache_get("/t").unwrap().unwrap();
    assert_eq!(
        got.headers,
        vec![
            ("a".to_string(), "1".to_string()),
            ("a".to_string(), "2".to_string())
        ]
    );
    assert_eq!(
        (got.etag.as_str(), got.tags.as_slice(), got.created_at_ms),
        ("e", &["x".to_string()][..], 42)
    );
}

#[test]
fn get_returning_something_that_is_not_a_cache_entry_is_a_typed_error() {
    let cases = [
        ("{ foo = 1 }", "not a CacheEntry: `html` is missing"),
        ("{ html = 5 }", "`html` must be a string, got a number"),
        (
            "{ html = 'h', headers = { 'not-a-pair' } }",
            "[name, value] pair",
        ),
        (
            "{ html = 'h', tags = 'blog' }",
            "`tags` must be an array of strings, got a string",
        ),
        (
            "{ html = 'h', tags = { 1, 2 } }",
            "each tag must be a string, got a number",
        ),
        (
            "{ html = 'h', created_at_ms = -1 }",
            "`created_at_ms` must be a non-negative integer, got -1",
        ),
        (
            "{ html = 'h', created_at_ms = 1.5 }",
            "`created_at_ms` must be a non-negative integer, got 1.5",
        ),
        ("{ 'a', 'b' }", "expected a JSON object, got an array"),
        ("'not json'", "invalid JSON"),
        ("'[1]'", "expected a JSON object, got an array"),
        (
            "{ html = print }",
            "the returned table cannot be encoded as JSON: bext.json.encode: cannot encode a function value (at $.html)",
        ),
        ("'\\xff'", "not valid UTF-8"),
    ];
    for (expr, expected) in cases {
        let plugin = cache_returning("bad-entry", expr, "0");
        match plugin.try_cache_get("/k") {
            Err(Error::BadEnvelope {
                plugin,
                method,
                message,
            }) => {
                assert_eq!((plugin.as_str(), method.as_str()), ("bad-entry", "get"));
                assert!(message.contains(expected), "{expr}: {message}");
            }
            other => panic!("{expr}: {other:?}"),
        }
        let cache: Arc<dyn CacheBackend> = Arc::new(plugin.clone());
        let text = cache.get("/k").unwrap_err();
        assert!(
            text.starts_with("lua plugin `bad-entry`: get returned malformed data"),
            "{text}"
        );
        // Still usable: the next call runs in the same sandbox.
        assert!(plugin.try_invalidate_tag("x").is_ok());
        assert_eq!(plugin.stats().instances_created, 1);
    }
    for (expr, found) in [
        ("42", "a number"),
        ("true", "a boolean"),
        ("print", "a function"),
    ] {
        match cache_returning("wrong-get", expr, "0").try_cache_get("/k") {
            Err(Error::WrongReturnType {
                expected, found: f, ..
            }) => {
                assert_eq!(expected, "a CacheEntry (a JSON string or a table) or nil");
                assert_eq!(f, found, "{expr}");
            }
            other => panic!("{expr}: {other:?}"),
        }
    }
}

#[test]
fn counts_must_be_integers_from_0_to_u32_max() {
    // Accepted: integers in range, and floats with an integral value.
    for (expr, want) in [
        ("0", 0),
        ("7", 7),
        ("4294967295", u32::MAX),
        ("6 / 2", 3),
        ("2.0^31", 1 << 31),
    ] {
        let plugin = cache_returning("count-ok", "nil", expr);
        assert_eq!(plugin.try_invalidate_tag("t").unwrap(), want, "{expr}");
        assert_eq!(plugin.try_invalidate_path("/*").unwrap(), want, "{expr}");
    }
    let cases = [
        ("-1", "-1"),
        ("2.5", "2.5"),
        ("-0.5", "-0.5"),
        ("4294967296", "4294967296"),
        ("0/0", "NaN"),
        ("math.huge", "inf"),
        ("'3'", "a string"),
        ("nil", "nil"),
        ("{}", "a table"),
    ];
    for (expr, found) in cases {
        let plugin = cache_returning("count-bad", "nil", expr);
        for result in [
            plugin.try_invalidate_tag("t"),
            plugin.try_invalidate_path("/*"),
        ] {
            match result {
                Err(Error::WrongReturnType {
                    plugin,
                    expected,
                    found: f,
                    ..
                }) => {
                    assert_eq!(plugin, "count-bad");
                    assert_eq!(expected, "a count (an integer from 0 to 4294967295)");
                    assert_eq!(f, found, "{expr}");
                }
                other => panic!("{expr}: {other:?}"),
            }
        }
        let cache: Arc<dyn CacheBackend> = Arc::new(plugin);
        let text = cache.invalidate_tag("t").unwrap_err();
        assert!(
            text.contains("invalidate_tag must return a count"),
            "{text}"
        );
    }
}

#[test]
fn delete_and_is_healthy_read_booleans() {
    // Booleans as they are; nil is false; a table is an error.
    let plugin = cache_returning("delete-bool", "nil", "key == 'yes'");
    assert!(plugin.try_cache_delete("yes").unwrap());
    assert!(!plugin.try_cache_delete("no").unwrap());
    assert!(
        !cache_returning("delete-nil", "nil", "nil")
            .try_cache_delete("k")
            .unwrap()
    );
    match cache_returning("delete-table", "nil", "{}").try_cache_delete("k") {
        Err(Error::WrongReturnType {
            expected: "a boolean",
            found,
            ..
        }) => assert_eq!(found, "a table"),
        other => panic!("{other:?}"),
    }
    // No is_healthy: healthy. One that fails or returns garbage: unhealthy.
    assert!(CacheBackend::is_healthy(&cache_returning(
        "no-health",
        "nil",
        "0"
    )));
    for body in ["return false", "error('backend down')", "return {}"] {
        let plugin = load(
            "sick",
            &format!(
                "return {{ get = function() end, set = function() end, delete = function() return true end,
                           invalidate_tag = function() return 0 end, invalidate_path = function() return 0 end,
                           is_healthy = function(self) {body} end }}"
            ),
        )
        .unwrap();
        let cache: Arc<dyn CacheBackend> = Arc::new(plugin);
        assert!(!cache.is_healthy(), "{body}");
    }
}
