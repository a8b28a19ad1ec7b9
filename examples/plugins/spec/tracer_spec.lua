describe("tracer", function()
  local plugin = load_plugin("../tracer.lua")
  local function span(name, parent)
    return { name = name, kind = "server", parent = parent or bext.json.null, attributes = {}, start_time_unix_nanos = 0 }
  end

  it("starts root and child spans in one trace", function()
    local root = plugin:start_span(span("GET /"))
    assert.equals(32, #root.trace_id)
    local child = plugin:start_span(span("db", root))
    assert.equals(root.trace_id, child.trace_id)
    assert.truthy(child.span_id ~= root.span_id)
    plugin:end_span(child, nil)
    plugin:end_span(root, nil)
    plugin:flush()
  end)

  it("refuses to flush with open spans", function()
    local open = plugin:start_span(span("left open"))
    assert.error_matches(function() plugin:flush() end, "1 span%(s%) still open")
    plugin:end_span(open, nil)
  end)
end)
