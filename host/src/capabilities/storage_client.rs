//! `StorageClientPlugin` over the generic mechanism (`generic.rs`): each trait method
//! calls the script method of the same name; the README's capability table
//! lists the argument and result shapes.

use super::generic::{JsonArg, UrlShape, error_code};
use super::header_rules::check_header_value;
use crate::error::Error;
use crate::guest::abi::Output;
use crate::plugin::LuaPlugin;
use bext_plugin_api::StorageClientPlugin;
use bext_plugin_api::storage::{Object, PresignOp, PutOpts, StorageError};
use bext_plugin_api::types::PluginCapability as Cap;
use serde::{Deserialize, Serialize};

/// Codes: `not_found`, `access_denied`, `quota_exceeded` pick those
/// variants; anything else is `Backend`.
impl From<Error> for StorageError {
    fn from(e: Error) -> Self {
        match error_code(&e) {
            Some("not_found") => StorageError::NotFound,
            Some("access_denied") => StorageError::AccessDenied,
            Some("quota_exceeded") => StorageError::QuotaExceeded,
            _ => StorageError::Backend(e.to_string()),
        }
    }
}

/// `PutOpts` as the script sees it.
#[derive(Serialize)]
struct PutOptsJson<'a> {
    content_type: &'a str,
    cache_control: &'a str,
    metadata: &'a [(String, String)],
}

/// A `list_page` result: `{"objects":[Object...],"next":"token"|null}`.
#[derive(Deserialize)]
struct PageJson {
    #[serde(default)]
    objects: Vec<Object>,
    #[serde(default)]
    next: Option<String>,
}

impl StorageClientPlugin for LuaPlugin {
    fn name(&self) -> &str {
        LuaPlugin::name(self)
    }

    /// The object's bytes as a Lua string; nil is `NotFound`.
    fn get(&self, key: &str) -> Result<Vec<u8>, StorageError> {
        const M: &str = "get";
        match self.call_ext(Cap::StorageClient, M, &[key.into()])? {
            Output::Str(bytes) => Ok(bytes),
            Output::Nil => Err(StorageError::NotFound),
            other => Err(StorageError::from(self.wrong_type(
                M,
                "a string or nil",
                &other,
            ))),
        }
    }

    fn put(&self, key: &str, body: Vec<u8>, opts: PutOpts) -> Result<(), StorageError> {
        const M: &str = "put";
        let opts = PutOptsJson {
            content_type: &opts.content_type,
            cache_control: &opts.cache_control,
            metadata: &opts.metadata,
        };
        let opts = self.json_arg(M, &opts)?;
        self.ext_unit(
            Cap::StorageClient,
            M,
            &[key.into(), JsonArg::Bytes(&body), opts],
            false,
        )
        .map_err(StorageError::from)
    }

    fn delete(&self, key: &str) -> Result<(), StorageError> {
        self.ext_unit(Cap::StorageClient, "delete", &[key.into()], false)
            .map_err(StorageError::from)
    }

    /// nil is an empty last page.
    fn list_page(
        &self,
        prefix: &str,
        continuation_token: Option<&str>,
    ) -> Result<(Vec<Object>, Option<String>), StorageError> {
        let page: Option<PageJson> = self.call_json(
            Cap::StorageClient,
            "list_page",
            &[prefix.into(), continuation_token.into()],
            "a page of objects",
        )?;
        let (objects, next) = page.map_or((Vec::new(), None), |p| (p.objects, p.next));
        for object in &objects {
            check_header_value("etag", &object.etag)
                .map_err(|m| StorageError::from(self.bad_envelope("list_page", m)))?;
        }
        Ok((objects, next))
    }

    fn presigned_url(
        &self,
        key: &str,
        op: PresignOp,
        ttl_secs: u64,
    ) -> Result<String, StorageError> {
        const M: &str = "presigned_url";
        let op = self.json_arg(M, &op)?;
        let url = self.call_json_required(
            Cap::StorageClient,
            M,
            &[key.into(), op, ttl_secs.into()],
            "a URL string",
        )?;
        self.checked_url(M, url, UrlShape::Absolute)
            .map_err(StorageError::from)
    }

    fn is_healthy(&self) -> bool {
        self.ext_healthy(Cap::StorageClient)
    }
}
