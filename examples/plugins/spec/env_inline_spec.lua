describe("env_inline", function()
  local plugin = load_plugin("../env_inline.lua")

  it("matches JavaScript that reads process.env, outside node_modules", function()
    assert.truthy(plugin:matches("src/app.js", "process.env.API"))
    assert.falsy(plugin:matches("node_modules/x/index.js", "process.env.API"))
    assert.falsy(plugin:matches("src/app.css", "process.env.API"))
    assert.falsy(plugin:matches("src/app.js", "const x = 1"))
  end)

  it("inlines known variables as JSON strings and keeps unknown ones", function()
    local out = plugin:transform("f(process.env.API, process.env.NODE_ENV, process.env.OTHER)", "src/app.js",
      { node_env = "production", env_vars = { { "API", "https://api.example" } } })
    assert.equals('f("https://api.example", "production", process.env.OTHER)', out)
  end)

  it("leaves a source without known variables unchanged", function()
    assert.is_nil(plugin:transform("process.env.OTHER", "src/app.js", { node_env = "test", env_vars = {} }))
  end)
end)
