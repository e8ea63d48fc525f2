//! Log output on stderr: JSON lines in production, for log shippers that parse structured
//! fields; human-readable text in development.

use crate::config::{Mode, Settings};
use tracing_subscriber::EnvFilter;

/// The global logger could not be installed (one was installed before).
#[derive(Debug, thiserror::Error)]
#[error("cannot install the logger: {0}")]
pub struct LoggingError(String);

/// Installs the process-wide logger for `settings.mode`, filtered by `settings.log_filter`.
pub fn init(settings: &Settings) -> Result<(), LoggingError> {
    let filter =
        EnvFilter::try_new(&settings.log_filter).map_err(|e| LoggingError(e.to_string()))?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let installed = match settings.mode {
        Mode::Production => builder.json().flatten_event(true).try_init(),
        Mode::Development => builder.try_init(),
    };
    installed.map_err(|e| LoggingError(e.to_string()))
}
