-- bext-lua test examples/gateway/spec/hoard_spec.lua
describe("hog/hoard", function()
  -- the heap examples/gateway/gateway.json gives the hog tenant, and fuel
  -- enough that the heap, not the default budget, stops it
  local limits = { max_heap_bytes = 16777216, fuel_per_call = 1000000000000 }
  local plugin = load_plugin("../plugins/hog/hoard.lua", { limits = limits })

  it("is stopped at its sandbox's memory limit", function()
    assert.error_matches(function() plugin:on_request({ path = "/" }) end, "memory")
  end)

  it("is stopped again from a fresh sandbox: the hoard does not survive the trap", function()
    assert.error_matches(function() plugin:on_request({ path = "/" }) end, "memory")
  end)
end)
