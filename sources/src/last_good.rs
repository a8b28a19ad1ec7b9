//! The last good set of a source on disk: what the node served from it, so
//! that a node restarting while the store is unreachable serves the same.
//!
//! One JSON file per source in the configured folder, named after the
//! source id (`<sanitised id>-<hash of id>.json`). It is written to a
//! temporary file, flushed to disk and renamed over the old one, so a crash
//! leaves the old file or the new one, never half of one. Every plugin's
//! content hash is checked on reading: an entry that does not match is
//! skipped (and logged), the others are served.

use crate::desired::{DesiredPlugin, DesiredSet, content_hash, manifest_or_default};
use crate::error::SourceError;
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::{Path, PathBuf};

const FORMAT: u32 = 1;

#[derive(Serialize, Deserialize)]
struct LastGoodFile {
    format: u32,
    source: String,
    saved_at_unix_ms: u64,
    plugins: Vec<StoredPlugin>,
}

#[derive(Serialize, Deserialize)]
struct StoredPlugin {
    tenant: String,
    plugin: String,
    manifest: serde_json::Value,
    config_json: String,
    source: String,
    content_hash: String,
}

/// The file that holds `source_id`'s last good set inside `dir`.
pub fn last_good_path(dir: &Path, source_id: &str) -> PathBuf {
    let readable: String = source_id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .take(80)
        .collect();
    // The readable part may collide (`a/b` and `a_b`); the hash does not.
    let digest = content_hash(&[source_id]);
    dir.join(format!("{readable}-{}.json", &digest[..12]))
}

/// Writes `plugins` as the last good set of `source_id`.
pub fn save<'a>(
    dir: &Path,
    source_id: &str,
    plugins: impl IntoIterator<Item = &'a DesiredPlugin>,
) -> Result<PathBuf, SourceError> {
    let path = last_good_path(dir, source_id);
    let failed = |message: String| SourceError::LastGood {
        path: path.clone(),
        message,
    };
    let file = LastGoodFile {
        format: FORMAT,
        source: source_id.into(),
        saved_at_unix_ms: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64),
        plugins: plugins
            .into_iter()
            .map(|p| StoredPlugin {
                tenant: p.tenant.clone(),
                plugin: p.plugin.clone(),
                manifest: serde_json::to_value(&p.manifest).unwrap_or_default(),
                config_json: p.config_json.clone(),
                source: p.source.to_string(),
                content_hash: p.content_hash.clone(),
            })
            .collect(),
    };
    let text = serde_json::to_vec(&file).map_err(|e| failed(e.to_string()))?;
    std::fs::create_dir_all(dir).map_err(|e| failed(format!("creating the folder: {e}")))?;
    let temporary = path.with_extension(format!("tmp{}", std::process::id()));
    let write = || -> std::io::Result<()> {
        let mut out = std::fs::File::create(&temporary)?;
        out.write_all(&text)?;
        out.sync_all()?;
        std::fs::rename(&temporary, &path)
    };
    write().map_err(|e| {
        let _ = std::fs::remove_file(&temporary);
        failed(format!("writing: {e}"))
    })?;
    Ok(path)
}

/// Reads the last good set of `source_id`; `Ok(None)` when there is none.
pub fn load(dir: &Path, source_id: &str) -> Result<Option<(PathBuf, DesiredSet)>, SourceError> {
    let path = last_good_path(dir, source_id);
    let failed = |message: String| SourceError::LastGood {
        path: path.clone(),
        message,
    };
    let text = match std::fs::read(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(failed(format!("reading: {e}"))),
    };
    let file: LastGoodFile =
        serde_json::from_slice(&text).map_err(|e| failed(format!("not a last good file: {e}")))?;
    if file.format != FORMAT || file.source != source_id {
        return Err(failed(format!(
            "format {} of source `{}`, expected format {FORMAT} of `{source_id}`",
            file.format, file.source
        )));
    }
    let mut set = DesiredSet::new();
    for stored in file.plugins {
        let plugin =
            manifest_or_default(&stored.plugin, Some(stored.manifest)).and_then(|manifest| {
                DesiredPlugin::new(
                    source_id,
                    &stored.tenant,
                    &stored.plugin,
                    manifest,
                    stored.config_json,
                    stored.source,
                )
                .map_err(|e| e.to_string())
            });
        match plugin {
            Ok(plugin) if plugin.content_hash == stored.content_hash => {
                set.insert(source_id, plugin)
            }
            Ok(_) => {
                tracing::error!(path = %path.display(), tenant = %stored.tenant, plugin = %stored.plugin,
                "last good set: content hash mismatch, entry skipped")
            }
            Err(message) => {
                tracing::error!(path = %path.display(), tenant = %stored.tenant, plugin = %stored.plugin,
                %message, "last good set: bad entry skipped")
            }
        }
    }
    Ok(Some((path, set)))
}
