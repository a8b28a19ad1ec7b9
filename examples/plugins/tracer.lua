-- A tracer (TracerPlugin) that keeps spans in memory; `flush` fails while
-- spans are still open (a real exporter would send the finished ones).
---@type table<string, {name: string, kind: string, attributes: table, events: string[], status: string?}|nil>
local spans = {}
local open, next_span, next_trace = 0, 0, 0

local function key(h) return h.trace_id .. "/" .. h.span_id end

return {
  start_span = function(self, span_json)
    local span = bext.json.decode(span_json)
    next_span = next_span + 1
    local trace_id
    if type(span.parent) == "table" then
      trace_id = span.parent.trace_id
    else
      next_trace = next_trace + 1
      trace_id = string.format("%032x", next_trace)
    end
    local handle = { trace_id = trace_id, span_id = string.format("%016x", next_span) }
    spans[key(handle)] = { name = span.name, kind = span.kind, attributes = {}, events = {} }
    open = open + 1
    return handle
  end,

  set_attribute = function(self, handle_json, k, value)
    local s = spans[key(bext.json.decode(handle_json))]
    if s then s.attributes[k] = value end
  end,

  set_status = function(self, handle_json, status_json)
    local s = spans[key(bext.json.decode(handle_json))]
    if s then s.status = bext.json.decode(status_json).code end
  end,

  add_event = function(self, handle_json, event_json)
    local s = spans[key(bext.json.decode(handle_json))]
    if s then table.insert(s.events, bext.json.decode(event_json).name) end
  end,

  end_span = function(self, handle_json, end_nanos)
    local k = key(bext.json.decode(handle_json))
    if spans[k] then spans[k] = nil; open = open - 1 end
  end,

  flush = function(self)
    if open > 0 then error(open .. " span(s) still open", 0) end
  end,
}
