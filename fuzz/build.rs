//! Builds stock Lua 5.4 natively (lua-src's own `Build`) and
//! `guest/c/bext_json.c` with the glue in `diff/glue.c`.
fn main() {
    let lua = lua_src::Build::new().build(lua_src::Lua54);
    lua.print_cargo_metadata();
    cc::Build::new()
        .files(["../guest/c/bext_json.c", "diff/glue.c"])
        .include(lua.include_dir())
        .include("../guest/c")
        .include("common")
        .warnings(true)
        .compile("bext_json_glue");
    for path in ["../guest/c", "common", "diff"] {
        println!("cargo:rerun-if-changed={path}");
    }
}
