//! `bext-lua`: run Lua like the standalone interpreter on the wasm guest, and
//! check, try and time plugin scripts in the plugin sandbox. See the README's
//! "The bext-lua command" section, or `bext-lua --help`.

fn main() {
    std::process::exit(bext_lua_wasm_suite::cli::main());
}
