//! Accounts: who may do what.

mod email;
mod password;
mod register;
mod tokens;

pub use email::Email;
pub use password::{verify as verify_password, Password, POLICY as PASSWORD_POLICY};
pub use register::{register, RegisterError};
pub use tokens::{InvalidToken, ProbeTokenClaims, TokenKeys};
