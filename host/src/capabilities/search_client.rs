//! `SearchClientPlugin` over the generic mechanism (`generic.rs`): each trait method
//! calls the script method of the same name; the README's capability table
//! lists the argument and result shapes.

use super::generic::error_code;
use crate::error::Error;
use crate::plugin::LuaPlugin;
use bext_plugin_api::SearchClientPlugin;
use bext_plugin_api::search::{Document, SearchError, SearchQuery, SearchResults};
use bext_plugin_api::types::PluginCapability as Cap;

/// Codes: `index_not_found`, `access_denied`, `bad_query` pick those
/// variants; anything else is `Backend`.
impl From<Error> for SearchError {
    fn from(e: Error) -> Self {
        let message = e.to_string();
        match error_code(&e) {
            Some("index_not_found") => SearchError::IndexNotFound(message),
            Some("access_denied") => SearchError::AccessDenied(message),
            Some("bad_query") => SearchError::BadQuery(message),
            _ => SearchError::Backend(message),
        }
    }
}

impl SearchClientPlugin for LuaPlugin {
    fn name(&self) -> &str {
        LuaPlugin::name(self)
    }

    fn search(&self, index: &str, query: &SearchQuery) -> Result<SearchResults, SearchError> {
        const M: &str = "search";
        let query = self.json_arg(M, query)?;
        self.call_json_required(
            Cap::SearchClient,
            M,
            &[index.into(), query],
            "SearchResults",
        )
        .map_err(SearchError::from)
    }

    fn index(&self, index: &str, docs: Vec<Document>) -> Result<(), SearchError> {
        const M: &str = "index";
        let docs = self.json_arg(M, &docs)?;
        self.ext_unit(Cap::SearchClient, M, &[index.into(), docs], false)
            .map_err(SearchError::from)
    }

    fn delete(&self, index: &str, ids: Vec<String>) -> Result<(), SearchError> {
        const M: &str = "delete";
        let ids = self.json_arg(M, &ids)?;
        self.ext_unit(Cap::SearchClient, M, &[index.into(), ids], false)
            .map_err(SearchError::from)
    }

    fn is_healthy(&self) -> bool {
        self.ext_healthy(Cap::SearchClient)
    }
}
