-- Translations (I18nPlugin) from an in-script catalog, with `{name}`
-- placeholders filled from the variables.
local CATALOG = {
  en = { greeting = "Hello, {name}!", items = "You have {count} items" },
  fr = { greeting = "Bonjour, {name} !", items = "Vous avez {count} articles" },
  ["pt-BR"] = { greeting = "Olá, {name}!" },
}

return {
  translate = function(self, key, locale, vars_json)
    local messages = CATALOG[locale]
    if not messages then error("locale_unavailable: " .. locale, 0) end
    local text = messages[key] or CATALOG.en[key]
    if not text then error("format_error: no message `" .. key .. "`", 0) end
    local vars = bext.json.decode(vars_json)
    return (text:gsub("{(%w+)}", function(name)
      local v = vars[name]
      if type(v) ~= "table" then error("format_error: `" .. key .. "` needs {" .. name .. "}", 0) end
      return tostring(v.value)
    end))
  end,

  supported_locales = function(self)
    local locales = {}
    for locale in pairs(CATALOG) do locales[#locales + 1] = locale end
    table.sort(locales)
    return locales
  end,

  fallback_locale = function(self) return "en" end,
}
