describe("scheduled", function()
  local plugin = load_plugin("../scheduled.lua")

  it("declares its schedules", function()
    local schedules = plugin:schedules()
    assert.equals(2, #schedules)
    assert.equals("0 3 * * *", schedules[1].cron)
    assert.equals("skip", schedules[2].missed_run_policy)
  end)

  it("runs a job and counts it, but skips a late cache warm-up", function()
    local run = { schedule_id = "warm_cache", scheduled_at_ms = clock.now(), run_count = 0, is_catchup = false }
    plugin:run(run)
    run.is_catchup = true
    plugin:run(run)
    assert.equals(1, plugin:run_count("warm_cache"))
  end)

  it("fails an unknown schedule", function()
    assert.error_matches(function()
      plugin:run({ schedule_id = "nope", scheduled_at_ms = 0, run_count = 0, is_catchup = false })
    end, "no job for schedule `nope`")
  end)
end)
