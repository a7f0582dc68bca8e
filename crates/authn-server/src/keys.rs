//! The server key: 32 random bytes that encrypt secrets at rest (TOTP
//! secrets, AES-256-GCM), each with a key id so keys can be rotated.
//!
//! By default the key lives in `<data_dir>/server-key.json`, created on first
//! start. It can instead come from `AUTHN_SERVER_KEY` ([`from_env_key`]).
//!
//! File format:
//! `{"current": "<id>", "keys": [{"id": "<id>", "key": "<base64>", "created_at": "<rfc3339>"}]}`.
//! Old keys stay in the file after a [`rotate`] so data encrypted under them
//! can still be read (and re-encrypted).

use std::collections::HashSet;
use std::fmt;
use std::fs;
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::alphabet;
use base64::engine::general_purpose::STANDARD;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use chrono::{DateTime, Utc};
use rand::TryRng as _;
use rand::rngs::SysRng;
use serde::{Deserialize, Serialize};

/// Name of the key file inside the data directory.
pub const KEY_FILE_NAME: &str = "server-key.json";

/// Key id of a key given through `AUTHN_SERVER_KEY`.
pub const ENV_KEY_ID: &str = "env";

/// Length of a server key in bytes (AES-256).
pub const KEY_LEN: usize = 32;

/// Loaded server keys. `Debug` shows key ids only, never key bytes; no
/// `PartialEq`, so keys are not compared in variable time by accident.
#[derive(Clone)]
pub struct KeyFile {
    /// Id of the key new data is encrypted with.
    pub current: String,
    /// Every known key as `(id, key)`, oldest first; includes `current`.
    pub keys: Vec<(String, [u8; KEY_LEN])>,
    /// Whether this call created the key file (worth a log line: a new key
    /// cannot read data encrypted under a lost old one).
    pub created: bool,
}

impl KeyFile {
    /// The key new data is encrypted with.
    pub fn current_key(&self) -> Option<&[u8; KEY_LEN]> {
        self.key(&self.current)
    }

    /// The key with id `id`, to decrypt data encrypted under it.
    pub fn key(&self, id: &str) -> Option<&[u8; KEY_LEN]> {
        self.keys.iter().find(|(k, _)| k == id).map(|(_, key)| key)
    }
}

impl fmt::Debug for KeyFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ids: Vec<&str> = self.keys.iter().map(|(id, _)| id.as_str()).collect();
        f.debug_struct("KeyFile")
            .field("current", &self.current)
            .field("key_ids", &ids)
            .field("created", &self.created)
            .finish_non_exhaustive()
    }
}

/// Why the server key could not be loaded, created or rotated. Messages
/// never contain key material.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The data directory could not be created.
    #[error("cannot create data directory {}: {source}", path.display())]
    CreateDir {
        /// The directory.
        path: PathBuf,
        /// The OS error.
        source: io::Error,
    },
    /// The key file exists but could not be read.
    #[error("cannot read server key file {}: {source}", path.display())]
    Read {
        /// The key file.
        path: PathBuf,
        /// The OS error.
        source: io::Error,
    },
    /// The key file could not be written.
    #[error("cannot write server key file {}: {source}", path.display())]
    Write {
        /// The key file.
        path: PathBuf,
        /// The OS error.
        source: io::Error,
    },
    /// The key file is not a valid key file.
    #[error("server key file {} is corrupt: {reason}", path.display())]
    Corrupt {
        /// The key file.
        path: PathBuf,
        /// What is wrong (never the content).
        reason: String,
    },
    /// `AUTHN_SERVER_KEY` is not base64.
    #[error("server key is not valid base64")]
    NotBase64,
    /// `AUTHN_SERVER_KEY` does not decode to 32 bytes.
    #[error("server key must be {KEY_LEN} bytes, got {0}")]
    WrongLength(usize),
    /// The OS random number generator failed.
    #[error("operating system random number generator failed")]
    Random(#[source] rand::rngs::SysError),
}

/// On-disk form of the key file.
#[derive(Serialize, Deserialize)]
struct DiskFile {
    current: String,
    keys: Vec<DiskKey>,
}

#[derive(Serialize, Deserialize)]
struct DiskKey {
    id: String,
    key: String,
    created_at: DateTime<Utc>,
}

/// Accepts standard and URL-safe base64, padded or not: keys are pasted
/// from many tools (`openssl rand -base64 32`, `head -c32 | base64url`).
const STANDARD_ANY_PAD: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);
const URL_SAFE_ANY_PAD: GeneralPurpose = GeneralPurpose::new(
    &alphabet::URL_SAFE,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Reads `<data_dir>/server-key.json`, or creates it with a fresh key.
///
/// Creation makes `data_dir` (mode 0700 on unix) if needed and publishes the
/// file (mode 0600) atomically without replacing an existing one, so two
/// processes starting at once end up with the same key.
pub fn load_or_create(data_dir: &Path) -> Result<KeyFile, KeyError> {
    let path = data_dir.join(KEY_FILE_NAME);
    if let Some(file) = read_existing(&path)? {
        return Ok(file);
    }
    create_dir(data_dir)?;
    let disk = DiskFile::new_key(None)?;
    if write_file(data_dir, &path, &disk, Publish::IfAbsent)? {
        to_key_file(&path, disk, true)
    } else {
        // Another process created it between our read and our write.
        read_existing(&path)?.ok_or_else(|| KeyError::Corrupt {
            path: path.clone(),
            reason: "the file disappeared while being created".into(),
        })
    }
}

/// Adds a new key to `<data_dir>/server-key.json` and makes it current,
/// keeping every older key. Creates the file when there is none.
pub fn rotate(data_dir: &Path) -> Result<KeyFile, KeyError> {
    let path = data_dir.join(KEY_FILE_NAME);
    let Some(bytes) = read_bytes(&path)? else {
        return load_or_create(data_dir);
    };
    let old = parse(&path, &bytes)?;
    let disk = DiskFile::new_key(Some(old))?;
    write_file(data_dir, &path, &disk, Publish::Replace)?;
    to_key_file(&path, disk, false)
}

/// A key given as base64 (from `AUTHN_SERVER_KEY`), with key id `"env"`.
pub fn from_env_key(b64: &str) -> Result<KeyFile, KeyError> {
    let b64 = b64.trim();
    let bytes = STANDARD_ANY_PAD
        .decode(b64)
        .or_else(|_| URL_SAFE_ANY_PAD.decode(b64))
        .map_err(|_| KeyError::NotBase64)?;
    let key: [u8; KEY_LEN] = bytes
        .as_slice()
        .try_into()
        .map_err(|_| KeyError::WrongLength(bytes.len()))?;
    Ok(KeyFile {
        current: ENV_KEY_ID.to_owned(),
        keys: vec![(ENV_KEY_ID.to_owned(), key)],
        created: false,
    })
}

impl DiskFile {
    /// `old` plus a new current key (a file with one key when `old` is None).
    fn new_key(old: Option<DiskFile>) -> Result<Self, KeyError> {
        let mut keys = old.map(|o| o.keys).unwrap_or_default();
        let mut key = [0u8; KEY_LEN];
        SysRng.try_fill_bytes(&mut key).map_err(KeyError::Random)?;
        let now = Utc::now();
        // Two rotations on one day differ by the random suffix; retry the
        // 1-in-65536 clash instead of producing a duplicate id.
        let id = loop {
            let mut suffix = [0u8; 2];
            SysRng
                .try_fill_bytes(&mut suffix)
                .map_err(KeyError::Random)?;
            let id = format!(
                "k{}{:02x}{:02x}",
                now.format("%Y%m%d"),
                suffix[0],
                suffix[1]
            );
            if keys.iter().all(|k| k.id != id) {
                break id;
            }
        };
        keys.push(DiskKey {
            id: id.clone(),
            key: STANDARD.encode(key),
            created_at: now,
        });
        Ok(Self { current: id, keys })
    }
}

fn read_bytes(path: &Path) -> Result<Option<Vec<u8>>, KeyError> {
    match fs::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(KeyError::Read {
            path: path.to_owned(),
            source,
        }),
    }
}

fn read_existing(path: &Path) -> Result<Option<KeyFile>, KeyError> {
    let Some(bytes) = read_bytes(path)? else {
        return Ok(None);
    };
    warn_if_readable_by_others(path);
    let disk = parse(path, &bytes)?;
    to_key_file(path, disk, false).map(Some)
}

fn parse(path: &Path, bytes: &[u8]) -> Result<DiskFile, KeyError> {
    // serde_json's message can quote the offending value, which may be key
    // material: report only the error class and position.
    serde_json::from_slice(bytes).map_err(|e| KeyError::Corrupt {
        path: path.to_owned(),
        reason: format!(
            "invalid JSON ({:?} error at line {}, column {})",
            e.classify(),
            e.line(),
            e.column()
        ),
    })
}

/// Validates the on-disk form and decodes the keys.
fn to_key_file(path: &Path, disk: DiskFile, created: bool) -> Result<KeyFile, KeyError> {
    let corrupt = |reason: String| KeyError::Corrupt {
        path: path.to_owned(),
        reason,
    };
    let mut seen = HashSet::new();
    let mut keys = Vec::with_capacity(disk.keys.len());
    for entry in disk.keys {
        if entry.id.is_empty() || !seen.insert(entry.id.clone()) {
            return Err(corrupt(format!("empty or duplicate key id {:?}", entry.id)));
        }
        let bytes = STANDARD
            .decode(entry.key.as_bytes())
            .map_err(|_| corrupt(format!("key {:?} is not valid base64", entry.id)))?;
        let key: [u8; KEY_LEN] = bytes.as_slice().try_into().map_err(|_| {
            corrupt(format!(
                "key {:?} has {} bytes, expected {KEY_LEN}",
                entry.id,
                bytes.len()
            ))
        })?;
        keys.push((entry.id, key));
    }
    if !seen.contains(&disk.current) {
        return Err(corrupt(format!(
            "current key {:?} is not among the keys",
            disk.current
        )));
    }
    Ok(KeyFile {
        current: disk.current,
        keys,
        created,
    })
}

/// Creates `dir` (and its parents) readable by the owner alone (0700).
pub(crate) fn create_dir(dir: &Path) -> Result<(), KeyError> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir).map_err(|source| KeyError::CreateDir {
        path: dir.to_owned(),
        source,
    })
}

/// How [`write_file`] puts the new file in place.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Publish {
    /// Only if no file exists (first start, possibly racing another process).
    IfAbsent,
    /// Replacing the existing file (rotation).
    Replace,
}

/// Writes `disk` to a temporary file (mode 0600) in `dir` and moves it to
/// `path`, so readers never see a half-written key file. Returns false when
/// `Publish::IfAbsent` found a file already there.
fn write_file(
    dir: &Path,
    path: &Path,
    disk: &DiskFile,
    publish: Publish,
) -> Result<bool, KeyError> {
    let write_err = |source| KeyError::Write {
        path: path.to_owned(),
        source,
    };
    let json = serde_json::to_vec_pretty(disk).map_err(|e| write_err(io::Error::other(e)))?;
    let mut suffix = [0u8; 8];
    SysRng
        .try_fill_bytes(&mut suffix)
        .map_err(KeyError::Random)?;
    let tmp = dir.join(format!(
        ".{KEY_FILE_NAME}.{}.tmp",
        u64::from_le_bytes(suffix)
    ));
    let result = write_tmp(&tmp, &json).and_then(|()| match publish {
        Publish::Replace => fs::rename(&tmp, path).map(|()| true),
        // A hard link fails if `path` exists, unlike rename: the atomic
        // "create if absent" that makes concurrent first starts agree.
        Publish::IfAbsent => match fs::hard_link(&tmp, path) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(false),
            Err(e) => Err(e),
        },
    });
    // After a rename the temporary name is gone; otherwise it must go.
    if publish == Publish::IfAbsent || result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    let written = result.map_err(write_err)?;
    sync_dir(dir).map_err(write_err)?;
    Ok(written)
}

fn write_tmp(tmp: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    // Created with 0600 (not chmod-ed later), so the key is never readable
    // by others, not even for an instant.
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(tmp)?;
    file.write_all(bytes)?;
    file.sync_all()
}

/// Makes the new directory entry durable, so a crash right after start-up
/// cannot lose a key that already encrypted data.
fn sync_dir(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    fs::File::open(dir)?.sync_all()?;
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

fn warn_if_readable_by_others(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        if let Ok(meta) = fs::metadata(path)
            && meta.permissions().mode() & 0o077 != 0
        {
            tracing::warn!(
                path = %path.display(),
                mode = format!("{:o}", meta.permissions().mode() & 0o777),
                "server key file is accessible to other users; chmod 600 it"
            );
        }
    }
    #[cfg(not(unix))]
    let _ = path;
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn creates_then_reloads_the_same_key() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("nested/data");
        let first = load_or_create(&dir).unwrap();
        assert!(first.created);
        assert_eq!(first.keys.len(), 1);
        let id = &first.current;
        assert_eq!(id.len(), 1 + 8 + 4, "{id}");
        assert!(id.starts_with(&format!("k{}", Utc::now().format("%Y%m%d"))));
        assert!(id[9..].chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(first.current_key().unwrap(), &[0u8; KEY_LEN]);

        let second = load_or_create(&dir).unwrap();
        assert!(!second.created);
        assert_eq!(second.current, first.current);
        assert_eq!(second.keys, first.keys);

        // The file is JSON in the documented shape, and nothing else is
        // left in the directory (no temporary files).
        let json: serde_json::Value =
            serde_json::from_slice(&fs::read(dir.join(KEY_FILE_NAME)).unwrap()).unwrap();
        assert_eq!(json["current"], first.current.as_str());
        assert_eq!(json["keys"][0]["id"], first.current.as_str());
        assert!(
            DateTime::parse_from_rfc3339(json["keys"][0]["created_at"].as_str().unwrap()).is_ok()
        );
        assert_eq!(fs::read_dir(&dir).unwrap().count(), 1);
    }

    #[cfg(unix)]
    #[test]
    fn file_is_0600_and_new_directory_0700() {
        use std::os::unix::fs::PermissionsExt as _;
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("data");
        load_or_create(&dir).unwrap();
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&dir.join(KEY_FILE_NAME)), 0o600);
        assert_eq!(mode(&dir), 0o700);
    }

    #[test]
    fn corrupt_files_are_typed_errors_without_content() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join(KEY_FILE_NAME);
        let cases = [
            "not json at all",
            r#"{"current": "a", "keys": "c2VjcmV0LWtleS1tYXRlcmlhbA=="}"#,
            r#"{"current": "a", "keys": [{"id": "a", "key": "!!!", "created_at": "2024-01-01T00:00:00Z"}]}"#,
            r#"{"current": "a", "keys": [{"id": "a", "key": "c2hvcnQ=", "created_at": "2024-01-01T00:00:00Z"}]}"#,
            r#"{"current": "b", "keys": [{"id": "a", "key": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", "created_at": "2024-01-01T00:00:00Z"}]}"#,
            r#"{"current": "a", "keys": []}"#,
        ];
        for case in cases {
            fs::write(&path, case).unwrap();
            let err = load_or_create(tmp.path()).unwrap_err();
            assert!(matches!(err, KeyError::Corrupt { .. }), "{case}: {err}");
            let msg = err.to_string();
            assert!(!msg.contains("c2VjcmV0"), "{msg}");
            assert!(!msg.contains("c2hvcnQ"), "{msg}");
        }
        // The corrupt file was not replaced by a new key.
        assert_eq!(fs::read_to_string(&path).unwrap(), cases[5]);
    }

    #[test]
    fn rotate_keeps_old_keys() {
        let tmp = tempfile::tempdir().unwrap();
        let first = load_or_create(tmp.path()).unwrap();
        let rotated = rotate(tmp.path()).unwrap();
        assert!(!rotated.created);
        assert_ne!(rotated.current, first.current);
        assert_eq!(rotated.keys.len(), 2);
        assert_eq!(rotated.keys[0], first.keys[0]);
        assert_ne!(rotated.current_key(), first.current_key());
        assert_eq!(rotated.key(&first.current), first.current_key());

        let reloaded = load_or_create(tmp.path()).unwrap();
        assert_eq!(reloaded.current, rotated.current);
        assert_eq!(reloaded.keys, rotated.keys);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let meta = fs::metadata(tmp.path().join(KEY_FILE_NAME)).unwrap();
            assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        }
    }

    #[test]
    fn rotate_without_a_file_creates_one() {
        let tmp = tempfile::tempdir().unwrap();
        let file = rotate(tmp.path()).unwrap();
        assert!(file.created);
        assert_eq!(file.keys.len(), 1);
    }

    #[test]
    fn concurrent_first_starts_agree_on_one_key() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().to_owned();
        let handles: Vec<_> = (0..8)
            .map(|_| {
                let dir = dir.clone();
                std::thread::spawn(move || load_or_create(&dir).unwrap())
            })
            .collect();
        let files: Vec<KeyFile> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        assert_eq!(files.iter().filter(|f| f.created).count(), 1);
        assert!(files.iter().all(|f| f.keys == files[0].keys));
    }

    #[test]
    fn env_key_decodes_32_bytes() {
        let key = [7u8; KEY_LEN];
        for b64 in [
            STANDARD.encode(key),
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(key),
            format!("  {}\n", STANDARD.encode(key)),
        ] {
            let file = from_env_key(&b64).unwrap();
            assert_eq!(file.current, ENV_KEY_ID);
            assert_eq!(file.current_key(), Some(&key));
        }
        assert!(matches!(
            from_env_key(&STANDARD.encode([1u8; 16])),
            Err(KeyError::WrongLength(16))
        ));
        assert!(matches!(from_env_key("%%%"), Err(KeyError::NotBase64)));
    }

    #[test]
    fn debug_shows_no_key_bytes() {
        let file = from_env_key(&STANDARD.encode([0xAB; KEY_LEN])).unwrap();
        let debug = format!("{file:?}");
        assert!(debug.contains("env"));
        assert!(!debug.contains("171"), "{debug}"); // 0xAB
        assert!(!debug.to_lowercase().contains("ab, "), "{debug}");
    }
}
