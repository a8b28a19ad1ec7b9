//! bext.json: the documented mapping, errors with positions and paths, depth
//! limits, and tables returned where the host expects JSON.

use crate::common::*;
use bext_plugin_api::middleware::ResponseHeaders;
use bext_plugin_lua_wasm::{Error, LuaPlugin};
use serde_json::{Value, json};

/// Runs `code` and expects it to succeed.
fn ok(plugin: &LuaPlugin, code: &str) -> String {
    eval(plugin, code).unwrap_or_else(|e| panic!("{code}: {e:?}"))
}

/// Runs `code` and expects a Lua error; returns its message.
fn lua_error(plugin: &LuaPlugin, code: &str) -> String {
    match eval(plugin, code) {
        Err(Error::Lua { message, .. }) => message,
        other => panic!("{code}: expected a Lua error, got {other:?}"),
    }
}

#[test]
fn encode_scalars_and_floats_that_stay_floats() {
    let p = eval_plugin();
    let cases = [
        ("nil", "null"),
        ("bext.json.null", "null"),
        ("true", "true"),
        ("false", "false"),
        ("0", "0"),
        ("-17", "-17"),
        ("math.maxinteger", "9223372036854775807"),
        ("math.mininteger", "-9223372036854775808"),
        ("1.5", "1.5"),
        ("2.0", "2.0"),
        ("-0.0", "-0.0"),
        ("0.1", "0.1"),
        ("1/3", "0.3333333333333333"),
        ("1e300", "1e+300"),
        ("2^53", "9007199254740992.0"),
        ("100.0", "100.0"),
        ("-7.25", "-7.25"),
        ("123.456", "123.456"),
        ("0.00001", "0.00001"),
        ("1e-7", "1e-07"),
        ("1e15", "1e+15"),
        ("0.1 + 0.2", "0.30000000000000004"),
        ("math.pi", "3.141592653589793"),
        ("'plain'", r#""plain""#),
        (
            r#"'q"b\\s/\n\r\t\b\f' .. string.char(0, 1, 31)"#,
            r#""q\"b\\s/\n\r\t\b\f\u0000\u0001\u001f""#,
        ),
        ("'héllo ✓ 😀'", r#""héllo ✓ 😀""#),
    ];
    for (lua, expected) in cases {
        let got = ok(&p, &format!("return bext.json.encode({lua})"));
        assert_eq!(got, expected, "{lua}");
    }
    // 127 (DEL) is not a control character in JSON: passed through.
    assert_eq!(
        ok(
            &p,
            r#"return bext.json.encode(string.char(127)) == '"\127"'"#
        ),
        "true"
    );
}

#[test]
fn floats_round_trip_exactly_and_integers_keep_their_subtype() {
    let limits = bext_plugin_lua_wasm::LuaSandboxLimits::default().fuel_per_call(0);
    let p = load_with_limits("eval-floats", &script("eval.lua"), limits);
    // Random doubles of every magnitude (the slow, exact path) and short
    // decimals (the fast paths), each through encode and decode.
    let mismatches = ok(
        &p,
        r#"local bad = {}
           local function check(x)
             local text = bext.json.encode(x)
             local y = bext.json.decode(text)
             if y ~= x or math.type(y) ~= "float" then bad[#bad + 1] = text end
           end
           for i = 1, 3000 do
             check((math.random() - 0.5) * 10 ^ math.random(-300, 300))
             check(math.random(-10^6, 10^6) / 10 ^ math.random(0, 6))
             check(math.random(0, 10^15) * 10.0 ^ math.random(-22, 22))
           end
           return #bad == 0 and "none" or table.concat(bad, " ", 1, math.min(#bad, 10))"#,
    );
    assert_eq!(mismatches, "none");
    let cases = [
        ("'42'", "integer 42"),
        ("'-0'", "integer 0"),
        ("'9223372036854775807'", "integer 9223372036854775807"),
        ("'-9223372036854775808'", "integer -9223372036854775808"),
        ("'9223372036854775808'", "float 9.2233720368548e+18"),
        ("'1.0'", "float 1.0"),
        ("'1e2'", "float 100.0"),
        ("'-2.5E-3'", "float -0.0025"),
        ("'0.1'", "float 0.1"),
        ("'1.7976931348623157e308'", "float 1.7976931348623e+308"),
        ("'4.9e-324'", "float 4.9406564584125e-324"),
        ("'0.000001234e-20'", "float 1.234e-26"),
        ("'12345678901234567.5'", "float 1.2345678901235e+16"),
        (
            "'123456789012345678901234567890'",
            "float 1.2345678901235e+29",
        ),
    ];
    for (text, expected) in cases {
        let got = ok(
            &p,
            &format!(
                "local v = bext.json.decode({text}) return math.type(v) .. ' ' .. tostring(v)"
            ),
        );
        assert_eq!(got, expected, "{text}");
    }
}

#[test]
fn null_arrays_objects_and_empty_tables() {
    let p = eval_plugin();
    let cases = [
        // null decodes to the sentinel, keeping array positions and keys.
        (
            "local t = bext.json.decode('[1,null,3]') return #t .. tostring(t[2] == bext.json.null)",
            "3true",
        ),
        (
            "local t = bext.json.decode('{\"a\":null}') return tostring(t.a == bext.json.null)",
            "true",
        ),
        (
            "return tostring(bext.json.decode('null') == bext.json.null)",
            "true",
        ),
        // Holes in arrays encode as null.
        ("return bext.json.encode({1, nil, 3})", "[1,null,3]"),
        (
            "return bext.json.encode({[1] = 'a', [3] = 'c'})",
            r#"["a",null,"c"]"#,
        ),
        // The empty table is an object unless marked; decoded arrays are marked.
        ("return bext.json.encode({})", "{}"),
        ("return bext.json.encode(bext.json.array())", "[]"),
        ("return bext.json.encode(bext.json.array({}))", "[]"),
        ("return bext.json.encode(bext.json.decode('[]'))", "[]"),
        ("return bext.json.encode(bext.json.decode('{}'))", "{}"),
        // Integer keys of a table that is not an array are written in decimal.
        ("return bext.json.encode({[0] = 'zero'})", r#"{"0":"zero"}"#),
        ("return bext.json.encode({[-1] = 1})", r#"{"-1":1}"#),
        ("return bext.json.encode({[1.5] = 1})", r#"{"1.5":1}"#),
        (
            "return getmetatable(bext.json.decode('[1]')) == getmetatable(bext.json.array())",
            "true",
        ),
        ("return getmetatable(bext.json.decode('{}')) == nil", "true"),
        // Whitespace everywhere the grammar allows it.
        (
            "return bext.json.encode(bext.json.decode(' \\n\\t{ \"a\" : [ 1 , 2 ] } \\r\\n'))",
            r#"{"a":[1,2]}"#,
        ),
    ];
    for (code, expected) in cases {
        assert_eq!(ok(&p, code), expected, "{code}");
    }
    // Key order is Lua's traversal order (which depends on the per-sandbox
    // hash seed), so objects with several keys are compared as JSON values.
    let as_json = |code: &str| serde_json::from_str::<Value>(&ok(&p, code)).unwrap();
    assert_eq!(
        as_json("return bext.json.encode({list = bext.json.array(), map = {}})"),
        json!({"list": [], "map": {}})
    );
    // Mixed tables are objects.
    assert_eq!(
        as_json("return bext.json.encode({10, 20, name = 'x'})"),
        json!({"1": 10, "2": 20, "name": "x"})
    );
}

#[test]
fn strings_unescape_and_validate_utf8() {
    let p = eval_plugin();
    let cases = [
        (
            r#"'"a\\"b\\\\c\\/d\\n\\t\\u00e9\\u2713"'"#,
            "a\"b\\c/d\n\té✓",
        ),
        (r#"'"\\ud83d\\ude00"'"#, "😀"),
        (r#"'"h\xc3\xa9llo"'"#, "héllo"),
    ];
    for (text, expected) in cases {
        assert_eq!(
            ok(&p, &format!("return bext.json.decode({text})")),
            expected,
            "{text}"
        );
    }
    assert_eq!(ok(&p, r#"return #bext.json.decode('"\\u0000"')"#), "1");
}

#[test]
fn a_document_survives_a_round_trip_through_lua() {
    let doc = json!({
        "method": "GET",
        "headers": [["accept", "text/html"], ["x-dup", "1"], ["x-dup", "2"]],
        "peer_ip": "203.0.113.7",
        "site_id": null,
        "n": [0, -1, 1.25, 1e-7, 12345678901234_i64, true, false, null, "", {}, []],
        "nested": {"a": {"b": {"c": [[[]]]}}},
        "unicode": "zażółć 🎉 \u{7}"
    });
    let p = eval_plugin();
    let code = format!(
        "return bext.json.encode(bext.json.decode({:?}))",
        doc.to_string()
    );
    let back: Value = serde_json::from_str(&ok(&p, &code)).unwrap();
    assert_eq!(back, doc);
}

#[test]
fn invalid_json_is_a_lua_error_with_the_position() {
    let p = eval_plugin();
    let cases = [
        (
            "",
            "unexpected end of input (expected a value) at position 1",
        ),
        (
            "   ",
            "unexpected end of input (expected a value) at position 4",
        ),
        (
            "{\"a\":1,}",
            "unexpected character '}' (expected a string key) at position 8",
        ),
        (
            "[1 2]",
            "unexpected character '2' (expected ',' or ']') at position 4",
        ),
        (
            "{\"a\" 1}",
            "unexpected character '1' (expected ':') at position 6",
        ),
        (
            "{1:2}",
            "unexpected character '1' (expected a string key) at position 2",
        ),
        (
            "[1,]",
            "unexpected character ']' (expected a value) at position 4",
        ),
        (
            "[1",
            "unexpected end of input (expected ',' or ']') at position 3",
        ),
        ("\"abc", "unterminated string at position 1"),
        (
            "tru",
            "unexpected character 't' (expected a value) at position 1",
        ),
        (
            "nul",
            "unexpected character 'n' (expected a value) at position 1",
        ),
        ("01", "leading zeros are not allowed at position 2"),
        (
            "1.",
            "unexpected end of input (expected a digit after '.') at position 3",
        ),
        (
            "-",
            "unexpected end of input (expected a digit) at position 2",
        ),
        (
            "1e+",
            "unexpected end of input (expected a digit in the exponent) at position 4",
        ),
        ("1e400", "number out of range at position 1"),
        ("[1]x", "unexpected data after the JSON value at position 4"),
        ("\"a\\x\"", "invalid escape in a string at position 3"),
        ("\"\\u12\"", "invalid \\u escape at position 2"),
        (
            "\"\\ud800\"",
            "lone high surrogate in a \\u escape at position 2",
        ),
        (
            "\"\\udc00\"",
            "lone low surrogate in a \\u escape at position 2",
        ),
        (
            "\"a\tb\"",
            "control character in a string (escape it) at position 3",
        ),
        (
            "'single'",
            "unexpected character ''' (expected a value) at position 1",
        ),
        (
            "NaN",
            "unexpected character 'N' (expected a value) at position 1",
        ),
    ];
    for (text, expected) in cases {
        let message = lua_error(&p, &format!("return bext.json.decode({text:?})"));
        assert_eq!(
            message,
            format!("eval:1: bext.json.decode: {expected}"),
            "{text:?}"
        );
    }
    // Bytes that are not UTF-8, inside and outside strings.
    let message = lua_error(&p, r#"return bext.json.decode('"ok\xff"')"#);
    assert!(
        message.ends_with("invalid UTF-8 in a string at position 4"),
        "{message}"
    );
    let message = lua_error(&p, r#"return bext.json.decode('\xef\xbb\xbf{}')"#);
    assert!(
        message.ends_with("unexpected byte 0xEF (expected a value) at position 1"),
        "{message}"
    );
    // Not a string at all.
    let message = lua_error(&p, "return bext.json.decode({})");
    assert!(
        message.contains("bad argument #1 to 'decode' (string expected, got table)"),
        "{message}"
    );
}

#[test]
fn values_json_cannot_represent_are_lua_errors_with_a_path() {
    let p = eval_plugin();
    let cases = [
        ("print", "cannot encode a function value"),
        (
            "{ handler = print }",
            "cannot encode a function value (at $.handler)",
        ),
        (
            "{ a = { b = { 1, 2, coroutine.create(print) } } }",
            "cannot encode a thread value (at $.a.b[3])",
        ),
        ("0/0", "cannot encode NaN"),
        (
            "{ x = math.huge }",
            "cannot encode an infinite number (at $.x)",
        ),
        (
            "{ [true] = 1 }",
            "a table key of type boolean cannot be encoded",
        ),
        ("{ [math.huge] = 1 }", "cannot encode an infinite number"),
        (
            "{ s = 'ok\\xff' }",
            "invalid UTF-8 in a string (byte 3) (at $.s)",
        ),
        (
            "{ [1] = 1, [100] = 2 }",
            "sparse array (2 values up to index 100)",
        ),
        (
            "bext.json.array({ 1, 2, name = 'x' })",
            "a table marked as an array has the key 'name'",
        ),
        (
            "bext.json.array({ [0] = 'zero' })",
            "a table marked as an array has a number key",
        ),
        (
            "setmetatable({}, { __index = {} }) and bext.json.array(setmetatable({}, {}))",
            "bext.json.array: the table already has a metatable",
        ),
    ];
    for (lua, expected) in cases {
        let message = lua_error(&p, &format!("return bext.json.encode({lua})"));
        assert!(message.contains(expected), "{lua}: {message}");
    }
    // A cycle, directly and through a longer loop; a shared (acyclic) table is fine.
    let message = lua_error(&p, "local t = {} t.self = t return bext.json.encode(t)");
    assert!(
        message.ends_with("bext.json.encode: cycle: a table contains itself (at $.self)"),
        "{message}"
    );
    let message = lua_error(
        &p,
        "local a, b = {}, {} a.list = { b } b.back = a return bext.json.encode(a)",
    );
    assert!(
        message.ends_with("cycle: a table contains itself (at $.list[1].back)"),
        "{message}"
    );
    assert_eq!(
        ok(
            &p,
            "local s = { 1 } return bext.json.encode({ s, s, { s } })"
        ),
        "[[1],[1],[[1]]]"
    );
    // encode(nil) and encode() differ: no argument is an error.
    let message = lua_error(&p, "return bext.json.encode()");
    assert!(
        message.contains("bad argument #1 to 'encode' (value expected)"),
        "{message}"
    );
}

#[test]
fn nesting_is_limited_to_1000_levels_in_both_directions() {
    let p = eval_plugin();
    // 1000 levels work both ways.
    let code = "local s = string.rep('[', 1000) .. string.rep(']', 1000)
                return bext.json.encode(bext.json.decode(s)) == s";
    assert_eq!(ok(&p, code), "true");
    let code = "local t = {} for i = 1, 999 do t = { t } end return #bext.json.encode(t)";
    assert_eq!(ok(&p, code), "2000");
    // 1001 do not.
    let message = lua_error(
        &p,
        "return bext.json.decode(string.rep('[', 1001) .. string.rep(']', 1001))",
    );
    assert!(
        message.ends_with(
            "bext.json.decode: nested too deep (more than 1000 levels) at position 1001"
        ),
        "{message}"
    );
    let message = lua_error(
        &p,
        "local t = {} for i = 1, 1000 do t = { t } end return bext.json.encode(t)",
    );
    assert!(
        message.contains("bext.json.encode: nested too deep (more than 1000 levels) (at $[1][1]"),
        "{message}"
    );
}

#[test]
fn json_nested_10000_deep_is_a_lua_error_and_the_plugin_stays_usable() {
    let p = eval_plugin();
    for open in ["[", "{\"k\":"] {
        let code = format!("return bext.json.decode(string.rep({open:?}, 10000) .. '1')");
        let message = lua_error(&p, &code);
        assert!(
            message.contains("nested too deep (more than 1000 levels)"),
            "{message}"
        );
    }
    // Also from deep inside Lua's own C-call nesting (pcall within pcall),
    // where the wasm stack is already in use: still a Lua error, not a trap.
    let code = "local function nest(n)
                  if n == 0 then return bext.json.decode(string.rep('[', 10000)) end
                  local ok, err = pcall(nest, n - 1)
                  if ok then return err end
                  error(err, 0)
                end
                return nest(180)";
    let message = lua_error(&p, code);
    assert!(message.contains("nested too deep"), "{message}");
    let code = "local t = {} for i = 1, 10000 do t = { t } end return bext.json.encode(t)";
    assert!(lua_error(&p, code).contains("nested too deep"));
    assert_eq!(
        ok(&p, "return bext.json.encode(bext.json.decode('[1,[2]]'))"),
        "[1,[2]]"
    );
    let stats = p.stats();
    assert_eq!(
        (stats.traps, stats.instances_created),
        (0, 1),
        "no trap, same sandbox: {stats:?}"
    );
}

#[test]
fn large_documents_decode_and_encode() {
    // About 2 MB: 20,000 objects with strings that need escaping.
    let doc = Value::Array(
        (1..=20_000)
            .map(|i| json!({"id": i, "name": format!("item \"{i}\"\n"), "price": i as f64 + 0.25, "tags": ["a", "b"], "ok": true}))
            .collect(),
    );
    let text = doc.to_string();
    assert!(text.len() > 1_500_000);
    let code = format!(
        r#"local doc = bext.json.decode([==[{text}]==])
           assert(#doc == 20000 and doc[20000].name == 'item "20000"\n' and doc[7].price == 7.25)
           return bext.json.encode(doc)"#
    );
    let limits = bext_plugin_lua_wasm::LuaSandboxLimits::default().fuel_per_call(0);
    let big = load_with_limits("eval-big", &script("eval.lua"), limits);
    let again: Value = serde_json::from_str(&ok(&big, &code)).unwrap();
    assert_eq!(again, doc);
}

#[test]
fn tables_returned_where_json_is_expected_are_encoded() {
    let mw = load(
        "table-response",
        r#"return {
             on_request = function(self, ctx) return nil end,
             on_response = function(self, arg)
               local r = bext.json.decode(arg)
               if r.status == 404 then
                 return { status = 410, headers = { { "x-gone", r.request.path } } }
               elseif r.status == 500 then
                 return { headers = { { "x-bad", print } } }
               end
             end }"#,
    )
    .unwrap();
    let ctx = request("GET", "/old", &[]);
    let mut response = ResponseHeaders {
        status: 404,
        headers: vec![],
    };
    mw.try_on_response(&ctx, &mut response).unwrap();
    assert_eq!(
        (response.status, response.headers),
        (410, vec![("x-gone".into(), "/old".into())])
    );
    // A table that cannot be encoded is malformed output, not a Lua error.
    let mut response = ResponseHeaders {
        status: 500,
        headers: vec![],
    };
    match mw.try_on_response(&ctx, &mut response) {
        Err(Error::BadEnvelope {
            plugin,
            method,
            message,
        }) => {
            assert_eq!(
                (plugin.as_str(), method.as_str()),
                ("table-response", "on_response")
            );
            assert!(
                message.contains("cannot be encoded as JSON")
                    && message.contains("cannot encode a function value (at $.headers[1][2])"),
                "{message}"
            );
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(response.status, 500, "unchanged after an error");
}

#[test]
#[ignore = "a measurement, not a test: cargo test --test all json:: -- --ignored --nocapture"]
fn throughput() {
    let limits = bext_plugin_lua_wasm::LuaSandboxLimits::default()
        .fuel_per_call(0)
        .timeout_ms(60_000);
    let p = load_with_limits("eval-bench", &script("eval.lua"), limits);
    println!("{}", ok(&p, &script("json_bench.lua")));
}
