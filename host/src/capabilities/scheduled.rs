//! `ScheduledPlugin` over the generic mechanism (`generic.rs`): each trait method
//! calls the script method of the same name; the README's capability table
//! lists the argument and result shapes.

use super::generic::CLEANUP;
use crate::plugin::LuaPlugin;
use bext_plugin_api::ScheduledPlugin;
use bext_plugin_api::scheduled::{Schedule, ScheduledRunCtx};
use bext_plugin_api::types::PluginCapability as Cap;
use serde::Serialize;

/// `ScheduledRunCtx` as the script sees it.
#[derive(Serialize)]
struct RunContextJson<'a> {
    schedule_id: &'a str,
    scheduled_at_ms: u64,
    run_count: u64,
    is_catchup: bool,
    tenant_id: Option<&'a str>,
    site_id: Option<&'a str>,
}

impl ScheduledPlugin for LuaPlugin {
    fn name(&self) -> &str {
        LuaPlugin::name(self)
    }

    /// The script's `priority` field, else 1000.
    fn priority(&self) -> u32 {
        self.priority_for(Cap::Scheduled)
    }

    /// An array of `Schedule`s; nil is none.
    fn schedules(&self) -> Result<Vec<Schedule>, String> {
        let schedules =
            self.call_json(Cap::Scheduled, "schedules", &[], "an array of Schedules")?;
        Ok(schedules.unwrap_or_default())
    }

    fn run(&self, ctx: &ScheduledRunCtx) -> Result<(), String> {
        const M: &str = "run";
        let ctx = RunContextJson {
            schedule_id: &ctx.schedule_id,
            scheduled_at_ms: ctx.scheduled_at_ms,
            run_count: ctx.run_count,
            is_catchup: ctx.is_catchup,
            tenant_id: ctx.tenant_id.as_deref(),
            site_id: ctx.site_id.as_deref(),
        };
        let ctx = self.json_arg(M, &ctx)?;
        self.ext_unit(Cap::Scheduled, M, &[ctx], false)
            .map_err(String::from)
    }

    fn cleanup(&self) -> Result<(), String> {
        self.ext_unit(Cap::Scheduled, CLEANUP, &[], true)
            .map_err(String::from)
    }
}
