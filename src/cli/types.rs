//! `bext-lua types [--out DIR]`: the LuaLS / EmmyLua definitions of what a
//! plugin sees (the `bext` table, the plugin table of each capability, the
//! sandbox's standard library) and of `bext-lua test`'s specs, embedded from the repository's `types/`.

use clap::Args;
use std::path::{Path, PathBuf};

/// The definition files, by name: `types/<name>` in the repository.
pub const DEFINITIONS: [(&str, &str); 4] = [
    ("bext.lua", include_str!("../../types/bext.lua")),
    ("plugin.lua", include_str!("../../types/plugin.lua")),
    ("stdlib.lua", include_str!("../../types/stdlib.lua")),
    ("spec.lua", include_str!("../../types/spec.lua")),
];

/// The `.luarc.json` for a plugin folder, with the definitions in `library`
/// (a path relative to the folder).
pub fn luarc_json(library: &str) -> String {
    include_str!("luarc.template.json").replace("@LIBRARY@", library)
}

/// Arguments of `bext-lua types`.
#[derive(Debug, Args)]
pub(super) struct TypesArgs {
    /// Writes the definitions into DIR/types/ and a `.luarc.json` using them
    /// into DIR (run it in the plugins' folder: `--out .`), instead of
    /// printing them.
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
}

pub(super) fn types(args: TypesArgs) -> i32 {
    let Some(dir) = args.out else {
        for (name, text) in DEFINITIONS {
            println!("-- ==== types/{name} ====");
            print!("{text}");
        }
        return 0;
    };
    match write(&dir) {
        Ok(written) => {
            for path in written {
                println!("wrote {}", path.display());
            }
            0
        }
        Err(e) => super::fail(e),
    }
}

fn write(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let types = dir.join("types");
    std::fs::create_dir_all(&types)
        .map_err(|e| format!("cannot create {}: {e}", types.display()))?;
    let mut written = Vec::new();
    let files = DEFINITIONS
        .iter()
        .map(|(name, text)| (types.join(name), text.to_string()))
        .chain([(dir.join(".luarc.json"), luarc_json("types"))]);
    for (path, text) in files {
        std::fs::write(&path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        written.push(path);
    }
    Ok(written)
}
