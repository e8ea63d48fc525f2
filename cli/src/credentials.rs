//! The login kept between runs: which server, as whom, and the access token, in
//! `<config dir>/pladmed/credentials.json` (`$XDG_CONFIG_HOME`, else `~/.config`, on Linux).
//!
//! The token is as good as the password until it expires, so the file is created readable by
//! its owner only (0600) and its directory 0700; the mode is set when the file is created, never
//! after, so that there is no moment when another user could read it.

use crate::error::{CliError, Result};
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::PathBuf;

/// What `login` stores.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Credentials {
    /// The server's base URL, as given at login.
    pub server: String,
    /// The account's e-mail address, to say who is logged in.
    pub email: String,
    /// The user JWT, sent as `access_token`.
    pub token: String,
}

/// Where the credentials live.
pub fn path() -> Result<PathBuf> {
    let config = dirs::config_dir().ok_or_else(|| {
        CliError::Local("no configuration directory: set HOME or XDG_CONFIG_HOME".into())
    })?;
    Ok(config.join("pladmed").join("credentials.json"))
}

/// The stored credentials, or `None` when nobody is logged in.
pub fn load() -> Result<Option<Credentials>> {
    let path = path()?;
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(CliError::Local(format!("{}: {e}", path.display()))),
    };
    serde_json::from_str(&text).map(Some).map_err(|e| {
        CliError::Local(format!(
            "{}: {e} (remove it with `pladmed-cli logout`)",
            path.display()
        ))
    })
}

/// Replaces the stored credentials; returns the file's path.
pub fn save(credentials: &Credentials) -> Result<PathBuf> {
    let path = path()?;
    let local = |e: std::io::Error| CliError::Local(format!("{}: {e}", path.display()));
    if let Some(dir) = path.parent() {
        create_private_dir(dir).map_err(local)?;
    }
    // A fresh file each time: an existing one may have been created with a wider mode.
    remove_file(&path).map_err(local)?;
    let mut file = private_file(&path).map_err(local)?;
    let text = serde_json::to_string_pretty(credentials).expect("credentials serialize");
    file.write_all(text.as_bytes()).map_err(local)?;
    file.sync_all().map_err(local)?;
    Ok(path)
}

/// Removes the stored credentials; returns whether there were any.
pub fn remove() -> Result<bool> {
    let path = path()?;
    remove_file(&path).map_err(|e| CliError::Local(format!("{}: {e}", path.display())))
}

fn remove_file(path: &std::path::Path) -> std::io::Result<bool> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e),
    }
}

#[cfg(unix)]
fn create_private_dir(dir: &std::path::Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

#[cfg(not(unix))]
fn create_private_dir(dir: &std::path::Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)
}

#[cfg(unix)]
fn private_file(path: &std::path::Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
}

#[cfg(not(unix))]
fn private_file(path: &std::path::Path) -> std::io::Result<std::fs::File> {
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
}
