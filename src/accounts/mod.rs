//! Accounts: who may do what.

mod hashing;
mod passlib;
mod password;
mod register;
mod tokens;

pub use hashing::{HashingBusy, PasswordHashing, RETRY_AFTER_S as HASHING_RETRY_AFTER_S};
pub use password::{check as check_password, Check, Password, POLICY as PASSWORD_POLICY};
pub use register::{register, RegisterError};
pub use tokens::{InvalidToken, ProbeTokenClaims, TokenKeys, LEGACY_TOKEN_VERSION};
