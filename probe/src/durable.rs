//! Files that survive a crash whole or not at all.
//!
//! A result is acknowledged to nobody until it is on disk, and deleted only once the
//! coordinator acknowledged it. Writing in place could leave half a file after a power cut, so
//! each record is written to a temporary file, fsync'd, renamed over its final name and the
//! directory fsync'd (the rename itself lives in the directory). A deletion is made durable the
//! same way, so an acknowledged result does not come back after a crash.
//!
//! These calls block; async code runs them with `spawn_blocking`.

use serde::de::DeserializeOwned;
use serde::Serialize;
use std::fs::{self, File};
use std::io::{self, Write};
use std::path::PathBuf;

const RECORD_SUFFIX: &str = ".json";
const TEMP_SUFFIX: &str = ".tmp";

/// A directory of JSON records, one file per key.
#[derive(Debug, Clone)]
pub struct RecordDir {
    dir: PathBuf,
}

impl RecordDir {
    /// Opens `dir`, creating it if needed, and removes temporary files a crash left behind.
    pub fn open(dir: impl Into<PathBuf>) -> io::Result<Self> {
        let dir = dir.into();
        fs::create_dir_all(&dir)?;
        for entry in fs::read_dir(&dir)? {
            let path = entry?.path();
            if path.to_string_lossy().ends_with(TEMP_SUFFIX) {
                fs::remove_file(&path)?;
            }
        }
        Ok(Self { dir })
    }

    /// Writes `value` under `key`, replacing any previous record, durably.
    pub fn put<T: Serialize>(&self, key: &str, value: &T) -> io::Result<()> {
        let bytes = serde_json::to_vec(value).map_err(io::Error::other)?;
        let name = file_name(key);
        let temp = self.dir.join(format!(
            "{name}.{:016x}{TEMP_SUFFIX}",
            rand::random::<u64>()
        ));
        let mut file = File::create(&temp)?;
        file.write_all(&bytes)?;
        file.sync_all()?;
        drop(file);
        fs::rename(&temp, self.dir.join(&name))?;
        self.sync()
    }

    /// Deletes the record under `key`, durably; a missing record is fine.
    pub fn remove(&self, key: &str) -> io::Result<()> {
        match fs::remove_file(self.dir.join(file_name(key))) {
            Ok(()) => self.sync(),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Every record. A file that does not parse is renamed `*.corrupt` and skipped, so that one
    /// damaged file cannot stop the probe from starting.
    pub fn load<T: DeserializeOwned>(&self) -> io::Result<Vec<T>> {
        let mut records = Vec::new();
        for entry in fs::read_dir(&self.dir)? {
            let path = entry?.path();
            if !path.to_string_lossy().ends_with(RECORD_SUFFIX) {
                continue;
            }
            match serde_json::from_slice(&fs::read(&path)?) {
                Ok(record) => records.push(record),
                Err(error) => {
                    tracing::error!(path = %path.display(), %error, "unreadable record set aside");
                    fs::rename(&path, path.with_extension("corrupt"))?;
                }
            }
        }
        Ok(records)
    }

    fn sync(&self) -> io::Result<()> {
        File::open(&self.dir)?.sync_all()
    }
}

/// A file name for `key`: itself when it is made of safe characters, otherwise its hex
/// encoding, so that no key (an operation id from the coordinator) can name a path elsewhere.
fn file_name(key: &str) -> String {
    let safe = !key.is_empty()
        && key.len() <= 128
        && !key.starts_with('.')
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if safe {
        format!("{key}{RECORD_SUFFIX}")
    } else {
        let hex: String = key.bytes().map(|b| format!("{b:02x}")).collect();
        format!("x-{hex}{RECORD_SUFFIX}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    #[test]
    fn records_round_trip_and_replace() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = RecordDir::open(tmp.path().join("r")).unwrap();
        dir.put("a", &json!({"n": 1})).unwrap();
        dir.put("a", &json!({"n": 2})).unwrap();
        dir.put("b", &json!({"n": 3})).unwrap();
        let mut loaded: Vec<Value> = dir.load().unwrap();
        loaded.sort_by_key(|v| v["n"].as_i64());
        assert_eq!(loaded, vec![json!({"n": 2}), json!({"n": 3})]);
        dir.remove("a").unwrap();
        dir.remove("a").unwrap();
        assert_eq!(dir.load::<Value>().unwrap(), vec![json!({"n": 3})]);
    }

    #[test]
    fn leftovers_of_a_crash_are_cleaned_and_corrupt_files_set_aside() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("r");
        fs::create_dir_all(&path).unwrap();
        fs::write(path.join("a.json.0123.tmp"), b"{\"half").unwrap();
        fs::write(path.join("b.json"), b"not json").unwrap();
        let dir = RecordDir::open(&path).unwrap();
        assert!(dir.load::<Value>().unwrap().is_empty());
        let names: Vec<String> = fs::read_dir(&path)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, vec!["b.corrupt".to_string()]);
    }

    #[test]
    fn unsafe_keys_are_hex_encoded() {
        assert_eq!(file_name("65f0a1-b_c.1"), "65f0a1-b_c.1.json");
        assert_eq!(file_name("../x"), "x-2e2e2f78.json");
        assert_eq!(file_name(".hidden"), "x-2e68696464656e.json");
        assert_eq!(file_name(""), "x-.json");
    }
}
