//! The data directory: created on first run (0700), checked for writability at start-up, and
//! home of the generated master key (0600).

use std::fs::{self, OpenOptions};
use std::io::{ErrorKind, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use mcplatform_core::crypto::MasterKey;
use secrecy::ExposeSecret;

#[derive(Debug, thiserror::Error)]
pub enum DataDirError {
    #[error("data directory {path} cannot be created")]
    Create {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("data directory {path} is not writable")]
    NotWritable {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("master key file {path} cannot be read")]
    ReadKey {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("master key file {path} cannot be written")]
    WriteKey {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("master key in {origin} is invalid: must be 32 bytes encoded as base64")]
    InvalidKey { origin: String },
}

/// Creates the directory if needed (owner-only) and proves we can write to it.
pub fn prepare(dir: &Path) -> Result<(), DataDirError> {
    if !dir.is_dir() {
        fs::create_dir_all(dir)
            .map_err(|source| DataDirError::Create { path: dir.to_owned(), source })?;
        fs::set_permissions(dir, fs::Permissions::from_mode(0o700))
            .map_err(|source| DataDirError::Create { path: dir.to_owned(), source })?;
    }
    let probe = dir.join(".write-probe");
    let written = fs::write(&probe, b"ok").and_then(|()| fs::remove_file(&probe));
    written.map_err(|source| DataDirError::NotWritable { path: dir.to_owned(), source })
}

/// Reads the master key from `path`, or generates it there (0600) when the file is missing.
pub fn load_or_create_master_key(path: &Path) -> Result<MasterKey, DataDirError> {
    match fs::read_to_string(path) {
        Ok(text) => parse_key(&text, path),
        Err(err) if err.kind() == ErrorKind::NotFound => create_key(path),
        Err(source) => Err(DataDirError::ReadKey { path: path.to_owned(), source }),
    }
}

/// Reads a master key that must already exist (an operator-provided key file).
pub fn read_master_key(path: &Path) -> Result<MasterKey, DataDirError> {
    let text = fs::read_to_string(path)
        .map_err(|source| DataDirError::ReadKey { path: path.to_owned(), source })?;
    parse_key(&text, path)
}

pub fn parse_key(text: &str, origin: &Path) -> Result<MasterKey, DataDirError> {
    MasterKey::from_base64(text)
        .map_err(|_| DataDirError::InvalidKey { origin: origin.display().to_string() })
}

fn create_key(path: &Path) -> Result<MasterKey, DataDirError> {
    let key = MasterKey::generate();
    let file = OpenOptions::new().write(true).create_new(true).mode(0o600).open(path);
    match file {
        Ok(mut file) => {
            let encoded = key.to_base64();
            file.write_all(encoded.expose_secret().as_bytes())
                .and_then(|()| file.write_all(b"\n"))
                .and_then(|()| file.sync_all())
                .map_err(|source| DataDirError::WriteKey { path: path.to_owned(), source })?;
            tracing::info!(path = %path.display(), "generated a new master key");
            Ok(key)
        }
        // Another process created it between our read and our create: use theirs.
        Err(err) if err.kind() == ErrorKind::AlreadyExists => read_master_key(path),
        Err(source) => Err(DataDirError::WriteKey { path: path.to_owned(), source }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prepare_creates_an_owner_only_directory() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("a/b");
        prepare(&dir).unwrap();
        assert_eq!(fs::metadata(&dir).unwrap().permissions().mode() & 0o777, 0o700);
        assert_eq!(fs::read_dir(&dir).unwrap().count(), 0, "probe cleaned up");
    }

    #[test]
    fn prepare_names_a_directory_that_cannot_exist() {
        let root = tempfile::tempdir().unwrap();
        let file = root.path().join("plain-file");
        fs::write(&file, b"x").unwrap();
        let err = prepare(&file.join("data")).unwrap_err();
        assert!(err.to_string().starts_with("data directory "), "{err}");
        assert!(err.to_string().ends_with("plain-file/data cannot be created"), "{err}");
    }

    #[test]
    fn master_key_is_generated_once_with_0600_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("master.key");
        let first = load_or_create_master_key(&path).unwrap();
        assert_eq!(fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        let second = load_or_create_master_key(&path).unwrap();
        let sealed = first.seal(b"secret", b"ctx");
        assert_eq!(second.open(&sealed, b"ctx").unwrap(), b"secret");
    }

    #[test]
    fn a_damaged_master_key_file_is_an_error_not_a_new_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("master.key");
        fs::write(&path, "garbage").unwrap();
        let err = load_or_create_master_key(&path).unwrap_err().to_string();
        assert!(err.contains("master.key is invalid"), "{err}");
        assert_eq!(fs::read_to_string(&path).unwrap(), "garbage", "left untouched");
    }
}
