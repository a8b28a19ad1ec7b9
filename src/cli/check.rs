//! `bext-lua check PLUGIN.lua [--manifest M.json]`: lints the source
//! ([`super::lint`]: undefined globals and fields, misspelt methods, unused
//! locals), loads the script in the plugin sandbox exactly as the runtime
//! does and lists its capabilities. Lint errors make the exit status 1, as
//! do a load error and a capability mismatch; warnings do not.

use bext_plugin_api::types::{PluginCapability, PluginManifest};
use bext_plugin_lua_wasm::{
    CAPABILITIES, Error, LuaPluginConfig, LuaPluginRuntime, LuaRuntimeConfig, capability_name,
};
use clap::Args;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Arguments of `bext-lua check`.
#[derive(Debug, Args)]
pub(super) struct CheckArgs {
    /// The plugin script.
    plugin: PathBuf,
    /// The plugin's manifest (bext-plugin-api `PluginManifest` JSON) to compare
    /// the capabilities with.
    #[arg(long, value_name = "M.json")]
    manifest: Option<PathBuf>,
    /// The plugin's config section, what `bext.get_config()` returns.
    #[arg(long, value_name = "JSON", default_value = "{}")]
    config: String,
}

/// Capabilities a script's methods provide, and capabilities it only
/// partly implements (with the missing required methods), by the runtime's
/// capability table. Partial ones are reported only for capabilities with
/// their own adapter: the method names of the twelve others (`get`,
/// `delete`, `evaluate`, ...) overlap too much to mean anything alone.
pub(super) fn capabilities_of(
    methods: &BTreeSet<String>,
) -> (
    Vec<PluginCapability>,
    Vec<(PluginCapability, Vec<&'static str>)>,
) {
    let defines = |m: &str| methods.contains(m);
    let mut provided = Vec::new();
    let mut partial = Vec::new();
    for row in CAPABILITIES {
        if row.implemented_by(defines) {
            provided.push(row.capability);
        } else if row.own_adapter && row.touched_by(defines) {
            partial.push((row, row.missing(defines)));
        }
    }
    // A method a provided capability accounts for (`delete` of a search
    // client) does not make another capability partial (the cache backend's).
    let accounted = |m: &str| {
        CAPABILITIES.iter().any(|row| {
            provided.contains(&row.capability)
                && row.required.iter().chain(row.optional).any(|n| *n == m)
        })
    };
    let partial = partial
        .into_iter()
        .filter(|(row, _)| {
            row.required
                .iter()
                .chain(row.optional)
                .any(|m| defines(m) && !accounted(m))
        })
        .map(|(row, missing)| (row.capability, missing))
        .collect();
    (provided, partial)
}

/// A manifest named after the file when none is given.
pub(super) fn default_manifest(path: &Path) -> PluginManifest {
    let name = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "plugin".into());
    bext_lua_bench::manifest_without_capabilities(name)
}

fn read_manifest(path: &Path) -> Result<PluginManifest, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read the manifest {}: {e}", path.display()))?;
    serde_json::from_str(&text)
        .map_err(|e| format!("{}: not a plugin manifest: {e}", path.display()))
}

pub(super) fn check(args: CheckArgs, engine: LuaRuntimeConfig) -> i32 {
    let source = match super::read_script(&args.plugin) {
        Ok(source) => source,
        Err(e) => return super::fail(e),
    };
    let manifest = match &args.manifest {
        Some(path) => match read_manifest(path) {
            Ok(manifest) => Some(manifest),
            Err(e) => return super::fail(e),
        },
        None => None,
    };
    let name = super::plugin_name(&args.plugin);
    let lint_status = report_lint(&name, &source);
    let runtime = match LuaPluginRuntime::with_config(engine) {
        Ok(runtime) => runtime,
        Err(e) => return super::fail(e),
    };
    // The runtime would refuse a manifest whose capabilities the script
    // lacks at the first one; `check` compares them itself, reporting all.
    let mut sandbox_manifest = manifest
        .clone()
        .unwrap_or_else(|| default_manifest(&args.plugin));
    sandbox_manifest.capabilities.clear();
    sandbox_manifest.provides_capabilities.clear();
    let config = LuaPluginConfig::new(&name, sandbox_manifest, source).config_json(args.config);
    let plugin = match runtime.load_plugin(config) {
        Ok(plugin) => plugin,
        Err(e) => {
            report_load_error(&e);
            return 1;
        }
    };
    if lint_status == LintStatus::Unparsed {
        println!("{name}: warning: not linted: the lint could not parse the script");
    }
    let methods: BTreeSet<String> = plugin.methods().map(str::to_string).collect();
    println!("{name}: loads in the plugin sandbox");
    match plugin.script_priority() {
        Some(priority) => println!("  priority: {priority}"),
        None => println!("  priority: (none; the trait default)"),
    }
    println!(
        "  methods: {}",
        methods.iter().cloned().collect::<Vec<_>>().join(", ")
    );
    let (provided, partial) = capabilities_of(&methods);
    let names: Vec<&str> = provided.iter().map(|c| capability_name(*c)).collect();
    println!(
        "  capabilities: {}",
        if names.is_empty() {
            "(none)".to_string()
        } else {
            names.join(", ")
        }
    );
    let mut status = i32::from(lint_status == LintStatus::Errors);
    for (capability, missing) in &partial {
        println!(
            "  warning: {} is incomplete: missing {}",
            capability_name(*capability),
            missing.join(", ")
        );
    }
    if provided.is_empty() {
        println!("  error: the script provides no capability");
        status = 1;
    }
    if let Some(manifest) = manifest {
        let declared: Vec<PluginCapability> = manifest
            .capabilities
            .iter()
            .chain(manifest.provides_capabilities.iter())
            .copied()
            .collect();
        let mut mismatch = false;
        for capability in &declared {
            if !provided.contains(capability) {
                println!(
                    "  error: the manifest declares {} but the script does not provide it",
                    capability_name(*capability)
                );
                mismatch = true;
            }
        }
        for capability in &provided {
            if !declared.contains(capability) {
                println!(
                    "  warning: the script provides {} but the manifest does not declare it",
                    capability_name(*capability)
                );
            }
        }
        if mismatch {
            status = 1;
        } else {
            println!(
                "  manifest {} {}: capabilities match",
                manifest.name, manifest.version
            );
        }
    }
    status
}

#[derive(Debug, PartialEq, Eq)]
enum LintStatus {
    Clean,
    Errors,
    /// The lint's parser refused the source: the sandbox's compiler reports
    /// a syntax error, or `check` says the script was not linted.
    Unparsed,
}

/// Prints each lint finding as `file:line:col: error|warning: message`.
fn report_lint(name: &str, source: &str) -> LintStatus {
    let mut methods: Vec<&str> = CAPABILITIES
        .iter()
        .flat_map(|row| row.required.iter().chain(row.optional.iter()).copied())
        .collect();
    methods.sort_unstable();
    methods.dedup();
    let Ok(findings) = super::lint::lint(source, &methods) else {
        return LintStatus::Unparsed;
    };
    for finding in &findings {
        println!("{}", finding.render(name));
    }
    if findings
        .iter()
        .any(|f| f.severity == super::lint::Severity::Error)
    {
        LintStatus::Errors
    } else {
        LintStatus::Clean
    }
}

/// Syntax and load errors, with the file and line Lua reports.
fn report_load_error(error: &Error) {
    match error {
        Error::Syntax { message, .. } => eprintln!("bext-lua: syntax error: {message}"),
        Error::ScriptInit {
            message, traceback, ..
        } => {
            eprintln!("bext-lua: error while running the script's top level: {message}");
            if !traceback.is_empty() {
                eprintln!("{traceback}");
            }
        }
        other => eprintln!("bext-lua: {other}"),
    }
}
