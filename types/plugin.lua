---@meta bext.plugin
-- The plugin table a script returns, one class per capability of
-- bext-plugin-api 0.2, and the decoded shapes of the JSON each method gets
-- and may return. Annotate the returned table with the capability it
-- implements:
--
--   ---@type bext.MiddlewarePlugin
--   local plugin = { on_request = function(self, ctx_json) ... end }
--   return plugin
--
-- and cast decoded payloads: `local ctx = bext.json.decode(ctx_json) --[[@as bext.RequestContext]]`.
--
-- Convention (tests/all/definitions.rs compares it with the runtime's
-- capability table, `bext_plugin_lua_wasm::CAPABILITIES`): each plugin
-- class is `---@class bext.<TraitName>: bext.Plugin` followed by one
-- `---@field <method> fun(...)` line per script method of the trait.

---A header list: `{{"content-type", "text/html"}, ...}` (order and duplicates kept).
---@alias bext.Headers [string, string][]

---Fields every plugin table may have.
---@class bext.Plugin
---@field priority? integer 0 to 4294967295; the trait's default otherwise (600 middleware, 1000 lifecycle, transform and scheduled)

-- ---------------------------------------------------------------------
-- Middleware (MiddlewarePlugin)

---`ctx_json` of `on_request`, decoded: bext-plugin-api's `RequestContext`.
---@class bext.RequestContext
---@field method string
---@field path string
---@field hostname string
---@field headers bext.Headers
---@field query_string string
---@field peer_ip string|bext.Null
---@field tenant_id string|bext.Null
---@field site_id string|bext.Null
---@field extensions table<string, string> what earlier plugins added

---`arg_json` of `on_response`, decoded.
---@class bext.ResponseArg
---@field status integer
---@field headers bext.Headers
---@field request bext.RequestContext the request, with the extensions `on_request` added

---What `on_response` may return (a table or its JSON text): the fields given replace the response's.
---@class bext.ResponseChange
---@field status? integer
---@field headers? bext.Headers

---An envelope for `bext.middleware_respond` (encode it with `bext.json.encode`).
---@class bext.Envelope
---@field status integer
---@field headers? bext.Headers|table<string, string>
---@field body? string

---@class bext.MiddlewarePlugin: bext.Plugin
---@field on_request fun(self: bext.MiddlewarePlugin, ctx_json: string): bext.Action?
---@field on_response? fun(self: bext.MiddlewarePlugin, arg_json: string): bext.ResponseChange|string|nil

-- ---------------------------------------------------------------------
-- Cache backend (CacheBackend)

---A cache entry (`entry_json` of `set`, decoded; what `get` returns, as a table or JSON text).
---@class bext.CacheEntry
---@field html string required
---@field headers? bext.Headers
---@field etag? string|bext.Null
---@field tags? string[]
---@field created_at_ms? integer

---@class bext.CacheBackend: bext.Plugin
---@field get fun(self: bext.CacheBackend, key: string): bext.CacheEntry|string|nil
---@field set fun(self: bext.CacheBackend, key: string, entry_json: string, ttl_ms: integer?)
---@field delete fun(self: bext.CacheBackend, key: string): boolean
---@field invalidate_tag fun(self: bext.CacheBackend, tag: string): integer
---@field invalidate_path fun(self: bext.CacheBackend, glob: string): integer
---@field is_healthy? fun(self: bext.CacheBackend): boolean

-- ---------------------------------------------------------------------
-- Lifecycle (LifecyclePlugin): every hook optional; return values ignored; raise to fail.

---`event_json` of `on_request_complete`, decoded (fields as the server sends them).
---@class bext.RequestCompleteEvent
---@field path string
---@field method string
---@field status integer
---@field cache_status? string
---@field render_time_us? integer

---@class bext.LifecyclePlugin: bext.Plugin
---@field on_server_start? fun(self: bext.LifecyclePlugin, config_json: string)
---@field on_server_stop? fun(self: bext.LifecyclePlugin)
---@field on_request_complete? fun(self: bext.LifecyclePlugin, event_json: string)
---@field on_cache_write? fun(self: bext.LifecyclePlugin, key: string, tags_json: string)
---@field on_cache_invalidate? fun(self: bext.LifecyclePlugin, pattern: string, count: integer)
---@field on_reload? fun(self: bext.LifecyclePlugin)
---@field cleanup? fun(self: bext.LifecyclePlugin)

-- ---------------------------------------------------------------------
-- Transform (TransformPlugin)

---`ctx_json` of `transform`, decoded.
---@class bext.TransformContext
---@field node_env string
---@field env_vars bext.Headers `[[name, value], ...]`

---@class bext.TransformPlugin: bext.Plugin
---@field matches fun(self: bext.TransformPlugin, path: string, source: string): any truthy: transform this file
---@field transform fun(self: bext.TransformPlugin, source: string, path: string, ctx_json: string): string? nil (or `bext.transform_unchanged()`): unchanged

-- ---------------------------------------------------------------------
-- Auth (AuthPlugin)

---The auth request context (a mirror of `AuthRequestContext`).
---@class bext.AuthRequestContext
---@field method string
---@field path string
---@field hostname string
---@field headers bext.Headers
---@field query_string string
---@field peer_ip string|bext.Null
---@field tenant_id string|bext.Null
---@field site_id string|bext.Null
---@field session_id string|bext.Null

---@class bext.LoginParams
---@field return_to string|bext.Null
---@field inputs table<string, string>

---@class bext.LoginCallback
---@field query table<string, string>
---@field form table<string, string>
---@field body string

---@class bext.AuthUser
---@field subject string
---@field tenant_id? string
---@field role? string
---@field permissions? string[]
---@field attributes? table<string, string>

---`{action = "redirect", url = ...}`, `{action = "prompt", message = ...}` or `{action = "complete", user = ...}`.
---@class bext.LoginStep
---@field action "redirect"|"prompt"|"complete"
---@field url? string
---@field message? string
---@field user? bext.AuthUser

---@alias bext.AuthProviderKind "token"|"password"|"o_auth"|"magic_link"|"passkey"

---@class bext.AuthPlugin: bext.Plugin
---@field provider_kind fun(self: bext.AuthPlugin): bext.AuthProviderKind
---@field resolve fun(self: bext.AuthPlugin, ctx_json: string): bext.AuthUser|nil
---@field begin_login? fun(self: bext.AuthPlugin, ctx_json: string, params_json: string): bext.LoginStep
---@field complete_login? fun(self: bext.AuthPlugin, ctx_json: string, callback_json: string): bext.LoginStep
---@field logout? fun(self: bext.AuthPlugin, ctx_json: string)

-- ---------------------------------------------------------------------
-- Session (SessionPlugin)

---`opts_json` of `create`, decoded.
---@class bext.SessionCreate
---@field user_id string
---@field data_json string
---@field ttl_ms integer

---@class bext.SessionRecord
---@field id string
---@field user_id string
---@field data_json string
---@field created_at_ms integer
---@field expires_at_ms integer

---@class bext.SessionPlugin: bext.Plugin
---@field create fun(self: bext.SessionPlugin, opts_json: string): string the new id
---@field read fun(self: bext.SessionPlugin, id: string): bext.SessionRecord|nil nil: not found
---@field update fun(self: bext.SessionPlugin, id: string, data_json: string): string? a new id, or nil for the same
---@field touch fun(self: bext.SessionPlugin, id: string, ttl_ms: integer): string? a new id, or nil for the same
---@field delete fun(self: bext.SessionPlugin, id: string)
---@field is_healthy? fun(self: bext.SessionPlugin): boolean

-- ---------------------------------------------------------------------
-- Mailer (MailerPlugin)

---@class bext.Address
---@field email string
---@field name? string

---`msg_json` of `send`, decoded: bext-plugin-api's `Message`.
---@class bext.Message
---@field from bext.Address
---@field to bext.Address[]
---@field cc? bext.Address[]
---@field bcc? bext.Address[]
---@field reply_to? bext.Address[]
---@field return_path? string
---@field subject string
---@field text? string
---@field html? string
---@field attachments? {filename: string, content_type: string, bytes: integer[], content_id?: string}[]
---@field headers? bext.Headers

---@class bext.MailerPlugin: bext.Plugin
---@field send fun(self: bext.MailerPlugin, msg_json: string): {id: string}|string
---@field send_batch? fun(self: bext.MailerPlugin, msgs_json: string): ({id: string}|{error: string, kind: string})[]
---@field is_healthy? fun(self: bext.MailerPlugin): boolean

-- ---------------------------------------------------------------------
-- Tracer (TracerPlugin)

---@class bext.SpanHandle
---@field trace_id string 32 lowercase hex digits
---@field span_id string 16 lowercase hex digits

---@class bext.SpanStart
---@field name string
---@field kind "internal"|"server"|"client"|"producer"|"consumer"
---@field parent bext.SpanHandle|bext.Null
---@field attributes [string, any][]
---@field start_time_unix_nanos integer

---@class bext.SpanEvent
---@field name string
---@field attributes [string, any][]
---@field time_unix_nanos integer

---@class bext.TracerPlugin: bext.Plugin
---@field start_span fun(self: bext.TracerPlugin, span_json: string): bext.SpanHandle
---@field set_attribute fun(self: bext.TracerPlugin, handle_json: string, key: string, value: any) `value`: a scalar, or an array as JSON text
---@field set_status fun(self: bext.TracerPlugin, handle_json: string, status_json: string)
---@field add_event fun(self: bext.TracerPlugin, handle_json: string, event_json: string)
---@field end_span fun(self: bext.TracerPlugin, handle_json: string, end_unix_nanos: integer?)
---@field flush fun(self: bext.TracerPlugin)

-- ---------------------------------------------------------------------
-- Scheduled (ScheduledPlugin)

---@class bext.Schedule
---@field id string
---@field cron string
---@field description? string
---@field jitter_ms? integer
---@field missed_run_policy? "run_once"|"skip"|"run_all"
---@field locking? string
---@field config_json? string

---`ctx_json` of `run`, decoded.
---@class bext.ScheduledRunCtx
---@field schedule_id string
---@field scheduled_at_ms integer
---@field run_count integer
---@field is_catchup boolean
---@field tenant_id string|bext.Null
---@field site_id string|bext.Null

---@class bext.ScheduledPlugin: bext.Plugin
---@field schedules fun(self: bext.ScheduledPlugin): bext.Schedule[]|nil
---@field run fun(self: bext.ScheduledPlugin, ctx_json: string)
---@field cleanup? fun(self: bext.ScheduledPlugin)

-- ---------------------------------------------------------------------
-- Webhook (WebhookPlugin)

---`request_json` of `verify`, decoded.
---@class bext.WebhookRequest
---@field url string
---@field method string
---@field headers bext.Headers
---@field received_at_ms integer

---@class bext.WebhookPlugin: bext.Plugin
---@field scheme fun(self: bext.WebhookPlugin): "hmac_body"|"hmac_timestamped_body"|"hmac_url_form_fields"
---@field verify fun(self: bext.WebhookPlugin, request_json: string, body: string): boolean? true accepts
---@field is_healthy? fun(self: bext.WebhookPlugin): boolean

-- ---------------------------------------------------------------------
-- Feature flags (FeatureFlagPlugin)

---`ctx_json` of `evaluate`, decoded.
---@class bext.FlagContext
---@field user_id string|bext.Null
---@field attributes table<string, any>

---boolean, integer, string, `{kind = ..., value = ...}` or any other table (JSON).
---@alias bext.FlagValue boolean|integer|string|table

---@class bext.FeatureFlagPlugin: bext.Plugin
---@field evaluate fun(self: bext.FeatureFlagPlugin, key: string, ctx_json: string): bext.FlagValue
---@field evaluate_batch? fun(self: bext.FeatureFlagPlugin, keys_json: string, ctx_json: string): table<string, bext.FlagValue>
---@field refresh? fun(self: bext.FeatureFlagPlugin)
---@field is_healthy? fun(self: bext.FeatureFlagPlugin): boolean

-- ---------------------------------------------------------------------
-- I18n (I18nPlugin)

---@class bext.I18nPlugin: bext.Plugin
---@field translate fun(self: bext.I18nPlugin, key: string, locale: string, vars_json: string): string `vars_json`: `{"name":{"type":"string","value":"Ada"}}`
---@field supported_locales fun(self: bext.I18nPlugin): string[]
---@field fallback_locale fun(self: bext.I18nPlugin): string
---@field has_locale? fun(self: bext.I18nPlugin, locale: string): boolean
---@field negotiate? fun(self: bext.I18nPlugin, accept_language: string): string

-- ---------------------------------------------------------------------
-- Storage client (StorageClientPlugin)

---`opts_json` of `put`, decoded.
---@class bext.PutOptions
---@field content_type string|bext.Null
---@field cache_control string|bext.Null
---@field metadata bext.Headers

---@class bext.ObjectList
---@field objects {key: string, size: integer, etag?: string, last_modified_ms?: integer}[]
---@field next? string

---@class bext.StorageClientPlugin: bext.Plugin
---@field get fun(self: bext.StorageClientPlugin, key: string): string? the bytes; nil: not found
---@field put fun(self: bext.StorageClientPlugin, key: string, body: string, opts_json: string)
---@field delete fun(self: bext.StorageClientPlugin, key: string)
---@field list_page fun(self: bext.StorageClientPlugin, prefix: string, token: string?): bext.ObjectList
---@field presigned_url fun(self: bext.StorageClientPlugin, key: string, method: "get"|"put", ttl_secs: integer): string
---@field is_healthy? fun(self: bext.StorageClientPlugin): boolean

-- ---------------------------------------------------------------------
-- Search client (SearchClientPlugin)

---`query_json` of `search`, decoded.
---@class bext.SearchQuery
---@field text string
---@field filters bext.Headers
---@field limit integer
---@field offset integer

---@class bext.SearchResults
---@field hits {id: string, score: number, source_json: string}[]
---@field total integer
---@field took_ms integer

---@class bext.SearchClientPlugin: bext.Plugin
---@field search fun(self: bext.SearchClientPlugin, index: string, query_json: string): bext.SearchResults
---@field index fun(self: bext.SearchClientPlugin, index: string, docs_json: string) `docs_json`: `[{"id":..., "fields_json":...}]`
---@field delete fun(self: bext.SearchClientPlugin, index: string, ids_json: string)
---@field is_healthy? fun(self: bext.SearchClientPlugin): boolean

-- ---------------------------------------------------------------------
-- Authorization policy (AuthzPolicyPlugin)

---`ctx_json` of `evaluate`, decoded.
---@class bext.AuthzContext
---@field action string
---@field resource string
---@field principal string
---@field attributes table<string, any>

---`true`/`"allow"`, `false`/nil/`"deny"`, `{decision = "deny", reason = ...}`, `{decision = "mutate", headers = ..., body = ...}`.
---@alias bext.AuthzDecision boolean|"allow"|"deny"|{decision: "allow"|"deny"|"mutate", reason?: string, headers?: bext.Headers, body?: string}|nil

---@class bext.AuthzPolicyPlugin: bext.Plugin
---@field evaluate fun(self: bext.AuthzPolicyPlugin, ctx_json: string): bext.AuthzDecision
---@field reload_policies fun(self: bext.AuthzPolicyPlugin)
---@field cleanup? fun(self: bext.AuthzPolicyPlugin)

-- ---------------------------------------------------------------------
-- Locking (LockingPlugin)

---@class bext.LockHandle
---@field key string
---@field lock_id string
---@field ttl_ms integer

---@class bext.LockingPlugin: bext.Plugin
---@field try_lock fun(self: bext.LockingPlugin, key: string, ttl_ms: integer): bext.LockHandle|string|false|nil nil/false: held elsewhere
---@field renew fun(self: bext.LockingPlugin, handle_json: string): bext.LockHandle|string|false|nil
---@field release fun(self: bext.LockingPlugin, handle_json: string)
---@field cleanup? fun(self: bext.LockingPlugin)
