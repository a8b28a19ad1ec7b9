//! Plugins share nothing: globals, metatables and faults stay in their own
//! sandbox.

use crate::common::*;
use bext_plugin_api::middleware::RequestAction;
use bext_plugin_lua_wasm::LuaSandboxLimits;

fn body(action: RequestAction) -> String {
    match action {
        RequestAction::Respond(r) => String::from_utf8(r.body).unwrap(),
        RequestAction::Continue => String::new(),
    }
}

#[test]
fn two_plugins_cannot_see_each_others_globals_or_metatables() {
    let writer = load(
        "writer",
        r#"secret = "tenant-a-secret"
           return { on_request = function(self, ctx)
             shared_counter = (shared_counter or 0) + 1
             getmetatable("").__index.upper = function() return "pwned" end
             string.secret = "in string table"
             _G.injected = function() return "from a" end
           end }"#,
    )
    .unwrap();
    writer
        .try_on_request(&mut request("GET", "/", &[]))
        .unwrap();

    let reader = load(
        "reader",
        r#"return { on_request = function(self, ctx)
             local seen = table.concat({ tostring(secret), tostring(shared_counter), ("abc"):upper(),
                                         tostring(string.secret), tostring(injected) }, ",")
             return bext.middleware_respond('{"status":200,"body":"' .. seen .. '"}')
           end }"#,
    )
    .unwrap();
    assert_eq!(
        body(
            reader
                .try_on_request(&mut request("GET", "/", &[]))
                .unwrap()
        ),
        "nil,nil,ABC,nil,nil"
    );
}

#[test]
fn a_plugins_state_persists_across_its_own_calls() {
    let counter = load(
        "counter",
        r#"local n = 0
           return { on_request = function(self, ctx) n = n + 1
             return bext.middleware_respond('{"status":200,"body":"' .. n .. '"}') end }"#,
    )
    .unwrap();
    for expected in 1..=3 {
        assert_eq!(
            body(
                counter
                    .try_on_request(&mut request("GET", "/", &[]))
                    .unwrap()
            ),
            expected.to_string()
        );
    }
}

#[test]
fn a_trapping_plugin_does_not_disturb_another() {
    let bad = load_with_limits(
        "trapper",
        "return { on_request = function(self, ctx) while true do end end }",
        LuaSandboxLimits::default().fuel_per_call(100_000),
    );
    let good = load(
        "steady",
        r#"local n = 0
           return { on_request = function(self, ctx) n = n + 1
             return bext.middleware_respond('{"status":200,"body":"' .. n .. '"}') end }"#,
    )
    .unwrap();
    for i in 1..=5 {
        assert!(bad.try_on_request(&mut request("GET", "/", &[])).is_err());
        assert_eq!(
            body(good.try_on_request(&mut request("GET", "/", &[])).unwrap()),
            i.to_string()
        );
    }
    assert_eq!(good.stats().traps, 0);
    assert_eq!(bad.stats().traps, 5);
}
