//! bext.json: the mapping, errors with positions and paths, depth limits,
//! and tables returned where the host expects JSON.

mod common;

use bext_plugin_lua_wasm::Error;
use common::*;

#[test]
fn smoke() {
    let p = eval_plugin();
    for code in [
        "return bext.json.encode({1,2,3})",
        "return bext.json.encode({a=1,b={true,false,bext.json.null},c='x\\n\"'})",
        "return bext.json.encode(bext.json.decode('{\"a\":[1,2.5,null,{}],\"b\":[]}'))",
        "return bext.json.encode(0.1) .. ' ' .. bext.json.encode(2.0) .. ' ' .. bext.json.encode(1/3) .. ' ' .. bext.json.encode(1e300)",
        "return bext.json.decode('[1]x')",
    ] {
        println!("{code} => {:?}", eval(&p, code));
    }
}
