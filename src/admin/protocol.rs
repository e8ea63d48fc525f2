//! The admin socket's wire format: the client writes one JSON request line, the server answers
//! with one JSON response line and closes the connection.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Longest request line the server reads; an e-mail address and a password fit many times.
pub const MAX_REQUEST_BYTES: usize = 16 * 1024;

/// What an operator asks the server to do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "snake_case")]
pub enum Request {
    /// Create a superuser account (same address and password rules as /register).
    CreateSuperuser {
        /// Login e-mail address.
        email: String,
        /// Password.
        password: String,
    },
    /// Add credits to the account with this address.
    GrantCredits {
        /// The account's e-mail address.
        email: String,
        /// Credits to add, at least 1.
        credits: u64,
    },
    /// Revoke every token of a probe and close its link.
    RevokeProbe {
        /// The probe identifier (24 hex digits).
        probe: String,
    },
    /// Remove a probe (its results stay) and close its link.
    RemoveProbe {
        /// The probe identifier (24 hex digits).
        probe: String,
    },
}

/// What became of a [`Request`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Response {
    /// The superuser exists now.
    SuperuserCreated {
        /// The new account's id.
        id: String,
        /// Its address.
        email: String,
    },
    /// The credits were added.
    CreditsGranted {
        /// The account's address.
        email: String,
        /// Its balance now.
        balance: u64,
    },
    /// Every older token of the probe is refused now.
    ProbeRevoked {
        /// The probe identifier.
        probe: String,
        /// The token version tokens must now carry.
        token_version: u32,
        /// Whether a link of the probe was closed on this server.
        link_closed: bool,
    },
    /// The probe is gone.
    ProbeRemoved {
        /// The probe identifier.
        probe: String,
        /// Whether a link of the probe was closed on this server.
        link_closed: bool,
    },
    /// Nothing was done.
    Refused {
        /// Why, as a category a script can test.
        reason: Refusal,
        /// Why, for a person; names the field at fault.
        message: String,
    },
}

/// Why a request was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Refusal {
    /// A field is invalid; the message names it.
    Invalid,
    /// The account or probe does not exist.
    NotFound,
    /// The account exists already.
    Conflict,
    /// The store failed; retry later.
    Unavailable,
    /// The request line was not a request.
    Protocol,
}

impl Response {
    /// A refusal.
    pub fn refused(reason: Refusal, message: impl Into<String>) -> Response {
        Response::Refused {
            reason,
            message: message.into(),
        }
    }
}

impl fmt::Display for Response {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Response::SuperuserCreated { id, email } => {
                write!(f, "superuser {email} created (id {id})")
            }
            Response::CreditsGranted { email, balance } => {
                write!(f, "credits granted: {email} now holds {balance}")
            }
            Response::ProbeRevoked {
                probe,
                token_version,
                link_closed,
            } => {
                let link = if *link_closed {
                    "; its link was closed"
                } else {
                    ""
                };
                write!(
                    f,
                    "probe {probe}: tokens revoked (now version {token_version}){link}; \
                     its owner finds the new token in GET /probes/me"
                )
            }
            Response::ProbeRemoved { probe, link_closed } => {
                let link = if *link_closed {
                    "; its link was closed"
                } else {
                    ""
                };
                write!(f, "probe {probe} removed{link}")
            }
            Response::Refused { reason, message } => write!(f, "refused ({reason:?}): {message}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_tagged_json_lines() {
        let request = Request::RevokeProbe {
            probe: "6047c91ef391a23bca4c31d8".into(),
        };
        let line = serde_json::to_string(&request).unwrap();
        assert_eq!(
            line,
            r#"{"command":"revoke_probe","probe":"6047c91ef391a23bca4c31d8"}"#
        );
        assert_eq!(serde_json::from_str::<Request>(&line).unwrap(), request);
        assert!(serde_json::from_str::<Request>(r#"{"command":"drop_tables"}"#).is_err());
    }
}
