//! What the benchmarks run: the reference middleware plugins, request
//! contexts of realistic sizes, the CPU-bound Lua programs in
//! `benches/lua/`, and the error-path script.

use crate::tiers::PluginSpec;
use bext_plugin_api::middleware::{RequestContext, ResponseHeaders};
use std::collections::HashMap;

/// The rate limiter (`examples/plugins/ratelimit.lua`), the 40-line
/// middleware of the cold-start measures. A one-second window over 4096
/// client addresses keeps it on its common path (allowed, bucket pruned)
/// however many calls a benchmark makes.
pub fn ratelimit() -> PluginSpec {
    PluginSpec::new(
        "ratelimit",
        include_str!("../../examples/plugins/ratelimit.lua"),
        r#"{"limit":100,"window_secs":1}"#,
    )
}

/// `run(n)` adds 1 to a Lua global `n` times: per-sandbox state, for scale.
pub fn global_counter() -> PluginSpec {
    PluginSpec::new(
        "global_counter",
        "hits = 0\nreturn { run = function(self, n) for _ = 1, tonumber(n) do hits = hits + 1 end return tostring(hits) end }",
        "{}",
    )
}

/// `run(n)` calls `bext.shared:incr` `n` times.
pub fn shared_counter() -> PluginSpec {
    PluginSpec::new(
        "shared_counter",
        "return { run = function(self, n) local v for _ = 1, tonumber(n) do v = bext.shared:incr('hits', 1, 0) end return tostring(v) end }",
        "{}",
    )
}

/// The bearer-token check (`examples/plugins/auth.lua`); the contexts carry
/// an accepted token, so every call walks the headers and matches it.
pub fn auth() -> PluginSpec {
    PluginSpec::new(
        "auth",
        include_str!("../../examples/plugins/auth.lua"),
        r#"{"protected_prefix":"/api/","tokens":["token-alpha","token-bravo","token-charlie","s3cret-token-7f3a9c"]}"#,
    )
}

/// The security-headers plugin (`examples/plugins/security_headers.lua`):
/// its `on_request` only continues; its work is in `on_response`.
pub fn security_headers() -> PluginSpec {
    PluginSpec::new(
        "security_headers",
        include_str!("../../examples/plugins/security_headers.lua"),
        "{}",
    )
}

/// The three middleware plugins of the per-call measures.
pub fn middleware() -> Vec<PluginSpec> {
    vec![ratelimit(), auth(), security_headers()]
}

/// `count` different plugins: the reference middleware scripts, each copy
/// with its own constant and config, so no two share a source.
pub fn distinct_plugins(count: usize) -> Vec<PluginSpec> {
    let bases = middleware();
    (0..count)
        .map(|i| {
            let base = &bases[i % bases.len()];
            let source = format!(
                "local PLUGIN_VARIANT = {i} -- a distinct script per tenant\n{}",
                base.source
            );
            PluginSpec::new(
                format!("{}_{i}", base.name),
                source,
                base.config_json.clone(),
            )
        })
        .collect()
}

/// The two plugin sets of the memory and scaling measures, with their
/// labels: the rate limiter alone, and 100 different plugins.
pub fn plugin_sets() -> [(&'static str, Vec<PluginSpec>); 2] {
    [
        ("1 plugin", vec![ratelimit()]),
        ("100 plugins", distinct_plugins(100)),
    ]
}

/// Request context sizes, as `on_request` receives them in JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContextSize {
    /// About 300 bytes: an API call with a few headers.
    Small,
    /// About 2 KB: a browser request with cookies and client hints.
    Large,
}

impl ContextSize {
    /// Both sizes.
    pub const ALL: [ContextSize; 2] = [ContextSize::Small, ContextSize::Large];

    /// `300 B` or `2 KB`.
    pub fn label(self) -> &'static str {
        match self {
            ContextSize::Small => "300 B ctx",
            ContextSize::Large => "2 KB ctx",
        }
    }
}

/// The `i`-th request of a benchmark: the client address cycles through
/// 4096 values, everything else is fixed.
pub fn request_context(size: ContextSize, i: usize) -> RequestContext {
    let mut headers: Vec<(String, String)> = vec![
        ("accept".into(), "application/json".into()),
        ("user-agent".into(), "curl/8.5.0".into()),
        ("authorization".into(), "Bearer s3cret-token-7f3a9c".into()),
    ];
    if size == ContextSize::Large {
        let browser = [
            ("host", "shop.example".to_string()),
            ("user-agent", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36".into()),
            ("accept-language", "en-GB,en;q=0.9,de;q=0.8,fr;q=0.7".into()),
            ("accept-encoding", "gzip, deflate, br, zstd".into()),
            ("cookie", format!("session={}; cart=3f9a1c77e2; theme=dark; consent=analytics%3Dno%26ads%3Dno; _ga=GA1.2.1849203.1732190000; _gid=GA1.2.2093847561.1732190000; recently_viewed=sku-10442%2Csku-20931%2Csku-33810", "a1b2c3d4e5f6".repeat(8))),
            ("sec-ch-ua", "\"Chromium\";v=\"131\", \"Not_A Brand\";v=\"24\"".into()),
            ("sec-ch-ua-mobile", "?0".into()),
            ("sec-ch-ua-platform", "\"Linux\"".into()),
            ("sec-fetch-dest", "empty".into()),
            ("sec-fetch-mode", "cors".into()),
            ("sec-fetch-site", "same-origin".into()),
            ("referer", "https://shop.example/catalogue/shoes?size=42&colour=blue&sort=price-asc".into()),
            ("x-request-id", "9b2f6c1e-4d7a-4f3b-9a8e-2c5d7e1f0a3b".into()),
            ("x-forwarded-for", "198.51.100.23, 203.0.113.7".into()),
            ("x-forwarded-proto", "https".into()),
            ("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".into()),
            ("if-none-match", "W/\"5e15153d-120f\"".into()),
            ("cache-control", "no-cache".into()),
            ("pragma", "no-cache".into()),
            ("priority", "u=1, i".into()),
            ("accept", "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,image/apng,*/*;q=0.8".into()),
            ("sec-ch-ua-full-version-list", "\"Chromium\";v=\"131.0.6778.85\", \"Not_A Brand\";v=\"24.0.0.0\"".into()),
            ("x-client-data", "CIu2yQEIprbJAQipncoBCN/9ygEIlqHLAQiFoM0BCOKwzgEI3L3OAQjCws4BCNLCzgEI+cPOAQ==".into()),
            ("baggage", "tenant=tenant-42,region=eu-west-1,plan=business,experiment=checkout-v2,sampled=true".into()),
            ("x-amzn-trace-id", "Root=1-67891233-abcdef012345678912345678;Parent=53995c3f42cd8ad8;Sampled=1".into()),
        ];
        headers.extend(browser.into_iter().map(|(k, v)| (k.to_string(), v)));
    }
    RequestContext {
        method: "GET".into(),
        path: "/api/v1/users/12345/profile".into(),
        hostname: "shop.example".into(),
        headers,
        query_string: "page=2&sort=name".into(),
        peer_ip: Some(format!("10.{}.{}.7", (i >> 8) & 15, i & 255)),
        tenant_id: Some("tenant-42".into()),
        site_id: None,
        extensions: HashMap::new(),
    }
}

/// The upstream response `on_response` measures see.
pub fn upstream_response() -> ResponseHeaders {
    ResponseHeaders {
        status: 200,
        headers: vec![
            ("content-type".into(), "application/json".into()),
            ("content-length".into(), "1832".into()),
            ("cache-control".into(), "private, max-age=0".into()),
        ],
    }
}

/// A CPU-bound Lua program from `benches/lua/`: `plugin:run(N)` returns a
/// checksum, which must be the same on both sides.
#[derive(Debug, Clone, Copy)]
pub struct CpuProgram {
    /// Short name (the file stem).
    pub name: &'static str,
    /// The script.
    pub source: &'static str,
    /// `N` of a full run.
    pub full_arg: u32,
    /// `N` of a `--quick` run.
    pub quick_arg: u32,
}

impl CpuProgram {
    /// The program as a plugin spec.
    pub fn spec(&self) -> PluginSpec {
        PluginSpec::new(self.name, self.source, "{}")
    }

    /// The argument for a quick or a full run.
    pub fn arg(&self, quick: bool) -> String {
        (if quick { self.quick_arg } else { self.full_arg }).to_string()
    }
}

macro_rules! cpu_program {
    ($name:literal, $full:expr, $quick:expr) => {
        CpuProgram {
            name: $name,
            source: include_str!(concat!("../../benches/lua/", $name, ".lua")),
            full_arg: $full,
            quick_arg: $quick,
        }
    };
}

/// The CPU set: each program takes about 20-40 ms (full) or 2-7 ms
/// (quick) on native Lua on the 2-core machine of `benches/RESULTS.md`.
pub const CPU_PROGRAMS: [CpuProgram; 8] = [
    cpu_program!("fib", 30, 25),
    cpu_program!("binary_trees", 13, 11),
    cpu_program!("nbody", 15_000, 3000),
    cpu_program!("spectral_norm", 150, 50),
    cpu_program!("fannkuch", 8, 7),
    cpu_program!("strings", 5000, 500),
    cpu_program!("tables", 10_000, 2000),
    cpu_program!("json", 800, 150),
];

/// The error path: `run(N)` makes N `pcall(error, ...)` calls, alternating
/// a string and a table error value, and counts the failures.
pub fn pcall_error() -> PluginSpec {
    PluginSpec::new(
        "pcall_error",
        r#"
local pcall, error = pcall, error
local payload = { code = 503, reason = "upstream unavailable" }
return {
  run = function(self, arg)
    local failed = 0
    for i = 1, math.tointeger(tonumber(arg)) do
      local ok = pcall(error, i % 2 == 0 and "boom" or payload)
      if not ok then failed = failed + 1 end
    end
    return tostring(failed)
  end,
}
"#,
        "{}",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contexts_have_the_advertised_sizes() {
        let small =
            bext_plugin_lua_wasm::request_context_json(&request_context(ContextSize::Small, 1))
                .len();
        let large =
            bext_plugin_lua_wasm::request_context_json(&request_context(ContextSize::Large, 1))
                .len();
        assert!(
            (250..=400).contains(&small),
            "small context is {small} bytes"
        );
        assert!(
            (1800..=2300).contains(&large),
            "large context is {large} bytes"
        );
    }

    #[test]
    fn distinct_plugins_have_distinct_sources() {
        let plugins = distinct_plugins(100);
        let sources: std::collections::HashSet<_> =
            plugins.iter().map(|p| p.source.clone()).collect();
        assert_eq!(sources.len(), 100);
    }
}
