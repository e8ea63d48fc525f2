//! Password policy and hashing.

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
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(self.0.as_bytes(), &salt)
            .expect("argon2 with default parameters hashes any input")
            .to_string()
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
}
