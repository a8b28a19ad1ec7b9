//! Compiled guests kept on disk, so a process starts without compiling.
//!
//! Compiling the guest takes about 0.6 s in an optimised build and tens of
//! seconds in a dependent's unoptimised debug build (wasmtime's compiler
//! itself is then unoptimised); loading a compiled artifact takes
//! milliseconds. One file per artifact kind, guest build and engine
//! settings, in a per-user folder ([`default_artifact_cache_dir`](crate::default_artifact_cache_dir)) or the one
//! [`LuaRuntimeConfig::artifact_cache_dir`](crate::LuaRuntimeConfig::artifact_cache_dir)
//! names.
//!
//! Safe to share between processes: a file is written to a temporary name
//! and renamed into place, so readers see a whole file or none. Each file
//! ends with a checksum of its contents and a format tag; a file that is
//! short, altered, from another wasmtime or for other engine settings is
//! ignored (with a warning) and rebuilt. On Unix the folder is created
//! private to the user (mode 0700), and a file in a folder that others may
//! write to is never loaded: loading a compiled artifact runs its code.

use std::io::Write;
use std::path::{Path, PathBuf};

/// Ends every cache file: the format version of this trailer (2: the
/// checksum is XXH3; files of format 1 fail the check and are rebuilt).
const MAGIC: &[u8; 8] = b"bextlua2";

/// The file for an artifact named `name` (a unique key) in `dir`.
pub(crate) fn file_in(dir: &Path, name: &str) -> PathBuf {
    dir.join(format!("{name}.cwasm"))
}

/// A cache file that may be trusted and is intact: the open file, for
/// `Module::deserialize_open_file` (which maps it instead of copying it),
/// and a read-only mapping of it, for later runtimes of the process. A new
/// process's runtime took 3.2-4.1 ms reading and copying the 1.4 MB file
/// and checking it with SipHash, 1.1 ms mapping it and checking it with
/// XXH3.
pub(crate) struct CachedFile {
    pub(crate) file: std::fs::File,
    pub(crate) mapped: MappedArtifact,
}

/// The artifact stored in `file` if the file exists, may be trusted and is
/// intact; `None` (after a warning when the file is there but unusable)
/// means: build it.
pub(crate) fn read(file: &Path) -> Option<CachedFile> {
    let open = match std::fs::File::open(file) {
        Ok(open) => open,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
        Err(e) => return ignore(file, &format!("cannot read it: {e}")),
    };
    if let Err(problem) = check_private(file.parent().unwrap_or(Path::new("."))) {
        return ignore(file, &problem);
    }
    let len = match open.metadata() {
        Ok(metadata) => metadata.len() as usize,
        Err(e) => return ignore(file, &format!("cannot read it: {e}")),
    };
    let Some(body_len) = len.checked_sub(16).filter(|&n| n > 0) else {
        return ignore(file, "it is truncated");
    };
    let mapped = match MappedArtifact::new(&open, body_len) {
        Ok(mapped) => mapped,
        Err(e) => return ignore(file, &format!("cannot map it: {e}")),
    };
    let trailer = &mapped.whole()[body_len..];
    if &trailer[8..] != MAGIC || trailer[..8] != checksum(mapped.as_ref()).to_le_bytes() {
        return ignore(file, "its checksum does not match (truncated or altered)");
    }
    Some(CachedFile { file: open, mapped })
}

/// A read-only mapping of a cache file; `as_ref` is the artifact (without
/// the trailer). Cache files are never changed in place (writers rename a
/// new file over the old one), so the mapped bytes stay as checked.
pub(crate) struct MappedArtifact {
    map: memmap2::Mmap,
    body_len: usize,
}

impl MappedArtifact {
    fn new(file: &std::fs::File, body_len: usize) -> std::io::Result<Self> {
        // SAFETY: the file is never modified in place (see above), so the
        // mapping does not change under the slices taken from it.
        let map = unsafe { memmap2::Mmap::map(file) }?;
        Ok(MappedArtifact { map, body_len })
    }

    fn whole(&self) -> &[u8] {
        &self.map
    }
}

impl AsRef<[u8]> for MappedArtifact {
    fn as_ref(&self) -> &[u8] {
        &self.map[..self.body_len]
    }
}

/// Stores `artifact` in `file` (atomically), creating the folder private
/// to the user. Failures are logged: the cache is an optimisation.
pub(crate) fn write(file: &Path, artifact: &[u8]) {
    if let Err(e) = try_write(file, artifact) {
        tracing::warn!(target: "bext_lua", "could not write the compiled-guest cache {}: {e}", file.display());
    }
}

/// Logs why `file` is not used.
pub(crate) fn ignore<T>(file: &Path, why: &str) -> Option<T> {
    tracing::warn!(target: "bext_lua", "ignoring the compiled-guest cache {} ({why}); compiling instead", file.display());
    None
}

fn try_write(file: &Path, artifact: &[u8]) -> std::io::Result<()> {
    let dir = file.parent().unwrap_or(Path::new("."));
    create_private_dir(dir)?;
    // Never leave compiled code where others could replace it.
    check_private(dir).map_err(std::io::Error::other)?;
    // Unique per process and thread: concurrent writers never share a
    // temporary file, and the rename makes the last complete one win.
    let tmp = dir.join(format!(
        ".{}.{}.{:?}.tmp",
        file.file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("artifact"),
        std::process::id(),
        std::thread::current().id()
    ));
    let result = (|| {
        let mut out = std::fs::File::create(&tmp)?;
        out.write_all(artifact)?;
        out.write_all(&checksum(artifact).to_le_bytes())?;
        out.write_all(MAGIC)?;
        out.sync_all()?;
        std::fs::rename(&tmp, file)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// A 64-bit checksum of the artifact (XXH3): catches truncation and
/// corruption, not an attacker, whom the folder's permissions keep out.
/// XXH3 is made for long inputs like this 1.4 MB file; SipHash, used
/// before, is made for short hash-table keys.
fn checksum(bytes: &[u8]) -> u64 {
    xxhash_rust::xxh3::xxh3_64(bytes)
}

#[cfg(unix)]
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

#[cfg(not(unix))]
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)
}

/// `Err` when users other than the owner may write to `dir`.
#[cfg(unix)]
fn check_private(dir: &Path) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(dir)
        .map_err(|e| format!("cannot inspect its folder: {e}"))?
        .permissions()
        .mode();
    if mode & 0o022 != 0 {
        return Err(format!(
            "its folder is writable by other users (mode {:o})",
            mode & 0o777
        ));
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_private(_dir: &Path) -> Result<(), String> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("bext-artifact-cache-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn a_written_artifact_reads_back_and_the_folder_is_private() {
        let dir = temp_dir("roundtrip").join("nested");
        let file = file_in(&dir, "a");
        assert!(read(&file).is_none(), "nothing there yet");
        write(&file, b"compiled code");
        assert_eq!(read(&file).unwrap().mapped.as_ref(), b"compiled code");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777,
                0o700
            );
        }
        let leftovers: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(leftovers.len(), 1, "no temporary file left: {leftovers:?}");
        std::fs::remove_dir_all(dir.parent().unwrap()).unwrap();
    }

    #[test]
    fn truncated_altered_or_foreign_files_are_ignored() {
        let dir = temp_dir("corrupt");
        let file = file_in(&dir, "a");
        write(&file, b"compiled code");
        let good = std::fs::read(&file).unwrap();
        for bad in [
            &good[..good.len() - 1],
            &good[..10],
            b"",
            &[b"x".as_slice(), &good[1..]].concat(),
        ] {
            std::fs::write(&file, bad).unwrap();
            assert!(read(&file).is_none(), "{bad:?}");
        }
        std::fs::write(&file, &good).unwrap();
        assert!(read(&file).is_some());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
            assert!(
                read(&file).is_none(),
                "a folder others may write to is not trusted"
            );
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn wasmtime_maps_a_cache_file_with_our_trailer() {
        // `deserialize_open_file` maps the whole file, the 16-byte trailer
        // included: wasmtime must keep ignoring bytes after its artifact.
        let engine = wasmtime::Engine::default();
        let module = wasmtime::Module::new(&engine, b"\0asm\x01\0\0\0").unwrap();
        let dir = temp_dir("trailer");
        let file = file_in(&dir, "a");
        write(&file, &module.serialize().unwrap());
        let cached = read(&file).unwrap();
        // SAFETY: a file this test just wrote with this engine's artifact.
        unsafe { wasmtime::Module::deserialize_open_file(&engine, cached.file) }.unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
