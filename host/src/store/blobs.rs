//! The blob store: bytes (voicemail audio, faxes, greetings, outgoing mail)
//! in a local directory, content-addressed by their SHA-256.
//!
//! A blob named `abcdef...` (64 lowercase hex digits) is the file
//! `<dir>/ab/cdef...`. Writes are durable before they are reported: the bytes
//! go to a temporary file in the blob's own directory, which is fsynced,
//! renamed into place, and the directory fsynced — a blob whose name was
//! returned survives `kill -9` and a power cut. A reader never sees a partial
//! blob (rename is atomic), and storing the same bytes twice gives the same
//! name and one file.
//!
//! Which blobs are still needed is known to the database
//! ([`Store::blob_is_referenced`](super::Store::blob_is_referenced)); this
//! type only stores bytes.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// Content-addressed blobs in a local directory. Cheap to clone.
#[derive(Debug, Clone)]
pub struct BlobStore {
    dir: PathBuf,
}

/// Prefix of the temporary files (never a valid blob name).
const TMP_PREFIX: &str = ".tmp-";

fn invalid(sha: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        format!("blob name {sha:?} is not a SHA-256: use 64 hex digits"),
    )
}

/// The canonical (lowercase) form of a blob name, or an error when `sha` is
/// not 64 hex digits.
fn canonical(sha: &str) -> io::Result<String> {
    if sha.len() == 64 && sha.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(sha.to_ascii_lowercase())
    } else {
        Err(invalid(sha))
    }
}

/// Fsyncs a directory, so that the entries created or renamed in it persist.
fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// A fresh temporary path in `dir`.
fn tmp_path(dir: &Path) -> PathBuf {
    dir.join(format!("{TMP_PREFIX}{:016x}", rand::random::<u64>()))
}

/// Runs blocking file work off the async threads.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> io::Result<T> + Send + 'static,
) -> io::Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| io::Error::other(format!("blob store task failed: {e}")))?
}

impl BlobStore {
    /// Opens (and creates, with its parents) the blob directory `dir`,
    /// typically `<data_dir>/blobs`.
    pub fn open(dir: impl Into<PathBuf>) -> io::Result<BlobStore> {
        let dir = dir.into();
        fs::create_dir_all(&dir)?;
        Ok(BlobStore { dir })
    }

    /// The directory of this store.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Where the blob `sha` is (or would be) stored. Refuses a name that is
    /// not 64 hex digits, so no name reaches outside the store.
    pub fn path_of(&self, sha: &str) -> io::Result<PathBuf> {
        let sha = canonical(sha)?;
        Ok(self.dir.join(&sha[..2]).join(&sha[2..]))
    }

    /// The shard directory of `sha`, created (durably) when missing.
    fn shard_dir(&self, sha: &str) -> io::Result<PathBuf> {
        let shard = self.dir.join(&sha[..2]);
        if !shard.is_dir() {
            fs::create_dir_all(&shard)?;
            sync_dir(&self.dir)?;
        }
        Ok(shard)
    }

    /// Stores `data` and returns its name (SHA-256, lowercase hex) once the
    /// blob is durable.
    pub async fn put(&self, data: &[u8]) -> io::Result<String> {
        let sha = hex::encode(Sha256::digest(data));
        let this = self.clone();
        let data = data.to_vec();
        let name = sha.clone();
        blocking(move || this.put_blocking(&name, &data)).await?;
        Ok(sha)
    }

    fn put_blocking(&self, sha: &str, data: &[u8]) -> io::Result<()> {
        let shard = self.shard_dir(sha)?;
        let target = shard.join(&sha[2..]);
        if !target.exists() {
            let tmp = tmp_path(&shard);
            let written = (|| {
                let mut f = OpenOptions::new().write(true).create_new(true).open(&tmp)?;
                f.write_all(data)?;
                f.sync_all()?;
                fs::rename(&tmp, &target)
            })();
            if let Err(e) = written {
                let _ = fs::remove_file(&tmp);
                return Err(e);
            }
        }
        // also when the blob was there: its rename may not be synced yet
        sync_dir(&shard)
    }

    /// Moves the finished file at `path` (e.g. a recording) into the store
    /// and returns its name and size once the blob is durable. The file is
    /// renamed when it is on the same file system, else copied and then
    /// removed; either way `path` is gone afterwards.
    pub async fn put_file(&self, path: impl AsRef<Path>) -> io::Result<(String, u64)> {
        let this = self.clone();
        let path = path.as_ref().to_path_buf();
        blocking(move || this.put_file_blocking(&path)).await
    }

    fn put_file_blocking(&self, path: &Path) -> io::Result<(String, u64)> {
        let mut file = File::open(path)?;
        let mut hasher = Sha256::new();
        let mut buf = vec![0u8; 64 * 1024];
        let mut size = 0u64;
        loop {
            let n = file.read(&mut buf)?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
            size += n as u64;
        }
        // the data must be on disk before the rename makes it a blob
        file.sync_all()?;
        drop(file);
        let sha = hex::encode(hasher.finalize());
        let shard = self.shard_dir(&sha)?;
        let target = shard.join(&sha[2..]);
        match fs::rename(path, &target) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::CrossesDevices => {
                let tmp = tmp_path(&shard);
                let copied = (|| {
                    fs::copy(path, &tmp)?;
                    File::open(&tmp)?.sync_all()?;
                    fs::rename(&tmp, &target)
                })();
                if let Err(e) = copied {
                    let _ = fs::remove_file(&tmp);
                    return Err(e);
                }
                sync_dir(&shard)?;
                fs::remove_file(path)?;
                if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                    sync_dir(parent)?;
                }
                return Ok((sha, size));
            }
            Err(e) => return Err(e),
        }
        sync_dir(&shard)?;
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            sync_dir(parent)?;
        }
        Ok((sha, size))
    }

    /// The bytes of blob `sha`. [`io::ErrorKind::NotFound`] when it is not
    /// stored, [`io::ErrorKind::InvalidData`] when the file no longer matches
    /// its name (corruption on disk).
    pub async fn get(&self, sha: &str) -> io::Result<Vec<u8>> {
        let path = self.path_of(sha)?;
        let sha = canonical(sha)?;
        blocking(move || {
            let data = fs::read(&path)?;
            if hex::encode(Sha256::digest(&data)) != sha {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("blob {sha} is corrupt: its content does not match its name"),
                ));
            }
            Ok(data)
        })
        .await
    }

    /// Whether blob `sha` is stored.
    pub async fn exists(&self, sha: &str) -> io::Result<bool> {
        let path = self.path_of(sha)?;
        blocking(move || Ok(path.is_file())).await
    }

    /// Removes blob `sha`; returns whether it was stored. The caller checks
    /// first that nothing refers to it
    /// ([`Store::blob_is_referenced`](super::Store::blob_is_referenced)).
    pub async fn remove(&self, sha: &str) -> io::Result<bool> {
        let path = self.path_of(sha)?;
        blocking(move || {
            match fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
                Err(e) => return Err(e),
            }
            if let Some(shard) = path.parent() {
                sync_dir(shard)?;
            }
            Ok(true)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked() {
        let s = BlobStore {
            dir: PathBuf::from("/b"),
        };
        let sha = "AB".repeat(32);
        assert_eq!(
            s.path_of(&sha).unwrap(),
            PathBuf::from("/b/ab").join("ab".repeat(31))
        );
        for bad in ["", "../../etc/passwd", &"a".repeat(63), &"g".repeat(64)] {
            let e = s.path_of(bad).unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
        }
        assert!(!TMP_PREFIX.bytes().all(|b| b.is_ascii_hexdigit()));
    }
}
