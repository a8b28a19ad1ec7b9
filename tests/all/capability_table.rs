//! The README's capability tables say what the runtime's capability table
//! (`bext_plugin_lua_wasm::CAPABILITIES`) says: the methods each capability
//! requires, the optional ones, and the traits' default priorities.

use bext_plugin_lua_wasm::{CAPABILITIES, CapabilityMethods};

fn readme() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap()
}

/// The rows of the markdown table whose header line starts with `header`,
/// each split into its cells.
fn table_rows(text: &str, header: &str) -> Vec<Vec<String>> {
    let mut lines = text.lines().skip_while(|line| !line.starts_with(header));
    assert!(
        lines.next().is_some(),
        "the README has no table headed {header:?}"
    );
    lines
        .skip(1) // |---|---|
        .take_while(|line| line.starts_with('|'))
        .map(|line| line.trim_matches('|').split(" | ").map(|cell| cell.trim().to_string()).collect())
        .collect()
}

/// The `code spans` of a cell, in order.
fn code_spans(cell: &str) -> Vec<&str> {
    cell.split('`').skip(1).step_by(2).collect()
}

fn row_named(name: &str) -> &'static CapabilityMethods {
    CAPABILITIES
        .iter()
        .copied()
        .find(|row| row.name == name)
        .unwrap_or_else(|| panic!("no capability `{name}`"))
}

#[test]
fn the_readmes_manifest_table_lists_every_required_method() {
    let rows = table_rows(&readme(), "| capability | the script must define |");
    let names: Vec<&str> = rows.iter().map(|cells| code_spans(&cells[0])[0]).collect();
    let expected: Vec<&str> = CAPABILITIES.iter().map(|row| row.name).collect();
    assert_eq!(names, expected);
    for cells in &rows {
        let row = row_named(code_spans(&cells[0])[0]);
        if row.required.is_empty() {
            assert_eq!(
                cells[1],
                format!("at least one {} hook", row.name),
                "{}",
                row.name
            );
        } else {
            assert_eq!(code_spans(&cells[1]), row.required, "{}", row.name);
        }
    }
}

#[test]
fn the_readmes_trait_table_lists_every_method_and_priority() {
    let rows = table_rows(&readme(), "| trait (example) | Lua methods");
    let traits: Vec<&str> = rows.iter().map(|cells| code_spans(&cells[0])[0]).collect();
    let expected: Vec<&str> = CAPABILITIES.iter().map(|row| row.trait_name).collect();
    assert_eq!(traits, expected);
    for (cells, row) in rows.iter().zip(CAPABILITIES) {
        // `on_request`, `on_response*`; field `priority` (600) (a remark)
        let (methods, priority) = cells[1]
            .split_once("; field `priority` ")
            .unwrap_or((&cells[1], ""));
        let methods = methods.split(" (").next().unwrap_or_default();
        let spans = code_spans(methods);
        let required: Vec<&str> = spans
            .iter()
            .copied()
            .filter(|m| !m.ends_with('*'))
            .collect();
        let optional: Vec<&str> = spans.iter().filter_map(|m| m.strip_suffix('*')).collect();
        assert_eq!(required, row.required, "{}", row.trait_name);
        assert_eq!(optional, row.optional, "{}", row.trait_name);
        let priority = priority
            .strip_prefix('(')
            .and_then(|p| p.split(')').next())
            .map(|p| p.parse::<u32>().unwrap());
        assert_eq!(priority, row.default_priority, "{}", row.trait_name);
    }
}
