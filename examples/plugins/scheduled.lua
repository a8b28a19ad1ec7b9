-- Scheduled jobs (ScheduledPlugin): a nightly sitemap rebuild and a
-- five-minute cache warm-up, each counting its runs.
local runs = {}

local JOBS = {
  sitemap = function(ctx) runs.sitemap = (runs.sitemap or 0) + 1 end,
  warm_cache = function(ctx)
    if ctx.is_catchup then return end -- a missed warm-up is not worth doing late
    runs.warm_cache = (runs.warm_cache or 0) + 1
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
  run_count = function(self, id) return runs[id] or 0 end,
}
