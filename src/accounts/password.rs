//! Password policy and hashing.

use super::passlib;
use argon2::password_hash::{rand_core::OsRng, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Argon2, PasswordHash};

/// Special characters that satisfy the policy (the original backend's set).
const SPECIALS: &str = "!\"@#$%^&*()-+?_=,/";

/// A password that meets the policy: at least 8 characters (at most 128) with an upper-case
/// letter, a lower-case letter, a digit and a special character.
pub struct Password(String);

/// What the policy says, as the error message.
pub const POLICY: &str = "password must have at least 8 characters, 1 uppercase character, \
1 lowercase, 1 digit and 1 special character (one of !\"@#$%^&*()-+?_=,/)";

impl Password {
    /// Checks the policy.
    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        let count = raw.chars().count();
        let ok = (8..=128).contains(&count)
            && raw.chars().any(char::is_uppercase)
            && raw.chars().any(char::is_lowercase)
            && raw.chars().any(|c| c.is_ascii_digit())
            && raw.chars().any(|c| SPECIALS.contains(c));
        if ok {
            Ok(Self(raw.to_string()))
        } else {
            Err(POLICY)
        }
    }

    /// Argon2id PHC string with a fresh salt. CPU-heavy: call from a blocking thread.
    pub fn hash(&self) -> String {
        argon2_hash(&self.0)
    }
}

fn argon2_hash(password: &str) -> String {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .expect("argon2 with default parameters hashes any input")
        .to_string()
}

/// What a sign-in's password check found.
#[derive(Debug, PartialEq, Eq)]
pub enum Check {
    /// The password does not match (or the stored hash is malformed).
    Wrong,
    /// The password matches an Argon2id hash.
    Right,
    /// The password matches a legacy hash (the original backend's passlib `pbkdf2_sha256`, from
    /// `pladmed import`); this Argon2id hash of it is to replace the stored one.
    Upgrade(String),
}

/// Checks `candidate` against the stored hash, Argon2id or legacy. A legacy match comes with
/// the Argon2id hash to store instead: the policy is not applied, since the account already has
/// this password. CPU-heavy: call from a blocking thread.
pub fn check(stored_hash: &str, candidate: &str) -> Check {
    if passlib::is_legacy(stored_hash) {
        return match passlib::verify(stored_hash, candidate) {
            true => Check::Upgrade(argon2_hash(candidate)),
            false => Check::Wrong,
        };
    }
    match verify(stored_hash, candidate) {
        true => Check::Right,
        false => Check::Wrong,
    }
}

/// Whether `candidate` matches the stored PHC string. CPU-heavy: call from a blocking thread.
/// A malformed stored hash never matches.
pub fn verify(stored_hash: &str, candidate: &str) -> bool {
    PasswordHash::new(stored_hash)
        .map(|parsed| {
            Argon2::default()
                .verify_password(candidate.as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_requires_each_class() {
        assert!(Password::parse("Abcdef1!").is_ok());
        for weak in [
            "Abcde1!", "abcdef1!", "ABCDEF1!", "Abcdefg!", "Abcdefg1", "",
        ] {
            assert!(Password::parse(weak).is_err(), "{weak} accepted");
        }
    }

    #[test]
    fn hash_verifies_only_the_same_password() {
        let hash = Password::parse("Abcdef1!").unwrap().hash();
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify(&hash, "Abcdef1!"));
        assert!(!verify(&hash, "Abcdef1?"));
        assert!(!verify("garbage", "Abcdef1!"));
    }

    #[test]
    fn a_legacy_match_comes_with_its_argon2_replacement() {
        let legacy = "$pbkdf2-sha256$1000$..//..//..//..//..//AQ$arkaidM5yCfN1tY1UTKhldWuZBDO1O1qAagY0PPHT40";
        let Check::Upgrade(upgraded) = check(legacy, "Old$ecret9") else {
            panic!("the legacy hash did not match");
        };
        assert!(upgraded.starts_with("$argon2id$"));
        assert_eq!(check(&upgraded, "Old$ecret9"), Check::Right);
        assert_eq!(check(legacy, "Old$ecret8"), Check::Wrong);
    }
}
