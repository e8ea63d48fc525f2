//! Why a command failed, and the exit code each reason gives, so that scripts can tell a
//! refusal from a typo, a login problem or a network outage.

/// A command's failure; its message is what the user reads, the server's own text included.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// Exit 1: the server refused the request (no credits, no probes available, a parameter it
    /// rejects, an unknown operation); the message is the server's `Error` text.
    #[error("{0}")]
    Refused(String),
    /// Exit 2: the command line is wrong; caught before anything is sent.
    #[error("{0}")]
    Usage(String),
    /// Exit 3: not logged in, a token the server no longer accepts, or wrong credentials.
    #[error("{0}")]
    Auth(String),
    /// Exit 4: the server cannot be reached, or it failed (5xx) or answered something that is
    /// not the API.
    #[error("{0}")]
    Network(String),
    /// Exit 5: a local file (the credentials, standard output) could not be read or written.
    #[error("{0}")]
    Local(String),
    /// Exit 0, silently: standard output was closed by its reader (`| head`), which wants no
    /// more.
    #[error("standard output closed")]
    OutputClosed,
    /// Exit 130: Ctrl-C while following an operation, which keeps running on the server.
    #[error("{0}")]
    Interrupted(String),
}

impl CliError {
    /// The process exit code for this failure (0 is success; see docs/cli.md).
    pub fn exit_code(&self) -> i32 {
        match self {
            CliError::Refused(_) => 1,
            CliError::Usage(_) => 2,
            CliError::Auth(_) => 3,
            CliError::Network(_) => 4,
            CliError::Local(_) => 5,
            CliError::OutputClosed => 0,
            CliError::Interrupted(_) => 130,
        }
    }
}

impl From<std::io::Error> for CliError {
    fn from(error: std::io::Error) -> Self {
        if error.kind() == std::io::ErrorKind::BrokenPipe {
            CliError::OutputClosed
        } else {
            CliError::Local(format!("output: {error}"))
        }
    }
}

impl From<csv::Error> for CliError {
    fn from(error: csv::Error) -> Self {
        CliError::Local(format!("CSV output: {error}"))
    }
}

/// What every command returns.
pub type Result<T, E = CliError> = std::result::Result<T, E>;
