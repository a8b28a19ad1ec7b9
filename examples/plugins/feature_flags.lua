-- A feature-flag evaluator (FeatureFlagPlugin). Flags are booleans with a
-- percentage rollout by user id, string variants, or per-plan integers.
-- Config: {"flags": {...}} overrides the defaults below.
local config = bext.json.decode(bext.get_config())

local FLAGS = type(config.flags) == "table" and config.flags or {
  new_checkout = { kind = "rollout", percent = 50 },
  dark_mode = { kind = "bool", value = true },
  banner = { kind = "variant", value = "spring-sale" },
  max_uploads = { kind = "by_plan", values = { free = 3, pro = 100 } },
}

-- A stable bucket from 0 to 99 for a user id.
local function bucket(user_id)
  local h = 7
  for i = 1, #user_id do h = (h * 31 + user_id:byte(i)) % 1000003 end
  return h % 100
end

return {
  evaluate = function(self, key, ctx_json)
    local ctx = bext.json.decode(ctx_json)
    local flag = FLAGS[key]
    if not flag then error("unknown flag `" .. key .. "`", 0) end
    if flag.kind == "bool" then return flag.value end
    if flag.kind == "variant" then return flag.value end
    if flag.kind == "rollout" then
      if type(ctx.user_id) ~= "string" then return false end
      return bucket(ctx.user_id) < flag.percent
    end
    if flag.kind == "by_plan" then
      return flag.values[ctx.attributes.plan or "free"] or flag.values.free
    end
    -- Anything else: the flag's JSON configuration itself.
    return flag
  end,

  refresh = function(self) end,
}
