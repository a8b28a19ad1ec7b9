describe("i18n", function()
  local plugin = load_plugin("../i18n.lua")

  it("fills in variables", function()
    assert.equals("Bonjour, Ada !", plugin:translate("greeting", "fr", { name = { type = "string", value = "Ada" } }))
  end)

  it("falls back to English for a message the locale lacks", function()
    assert.equals("You have 3 items", plugin:translate("items", "pt-BR", { count = { type = "number", value = 3 } }))
  end)

  it("raises coded errors", function()
    assert.error_matches(function() plugin:translate("greeting", "de", {}) end, "locale_unavailable: de")
    assert.error_matches(function() plugin:translate("greeting", "en", {}) end, "format_error: `greeting` needs {name}")
  end)

  it("lists its locales and falls back to en", function()
    assert.same({ "en", "fr", "pt-BR" }, plugin:supported_locales())
    assert.equals("en", plugin:fallback_locale())
  end)
end)
