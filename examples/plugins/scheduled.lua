-- Scheduled jobs (ScheduledPlugin): a nightly sitemap rebuild and a
-- five-minute cache warm-up, each counting its runs in bext.shared (shared
-- by every sandbox of the plugin, so the counts are the plugin's, not one
-- sandbox's).
local function count_run(id) bext.shared:incr("runs:" .. id, 1, 0) end

local JOBS = {
  sitemap = function(ctx) count_run("sitemap") end,
  warm_cache = function(ctx)
    if ctx.is_catchup then return end -- a missed warm-up is not worth doing late
    count_run("warm_cache")
  end,
}

return {
  priority = 500,

  schedules = function(self)
    return {
      { id = "sitemap", description = "Rebuild sitemap.xml", cron = "0 3 * * *", missed_run_policy = "run_once" },
      { id = "warm_cache", cron = "*/5 * * * *", jitter_ms = 30000, missed_run_policy = "skip",
        locking = "node_local", config_json = bext.json.encode({ paths = { "/", "/blog" } }) },
    }
  end,

  run = function(self, ctx_json)
    local ctx = bext.json.decode(ctx_json)
    local job = JOBS[ctx.schedule_id]
    if not job then error("no job for schedule `" .. ctx.schedule_id .. "`", 0) end
    job(ctx)
  end,

  -- Not a trait method: how many times a job ran, for tests.
  run_count = function(self, id) return bext.shared:get("runs:" .. id) or 0 end,
}
