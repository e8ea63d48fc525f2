//! The original backend's password hashes: passlib's `pbkdf2_sha256`, verified so that imported
//! accounts sign in with their old password (and are then rehashed with Argon2id).
//!
//! The format is `$pbkdf2-sha256$ROUNDS$SALT$CHECKSUM`: PBKDF2-HMAC-SHA256 of the password
//! with `ROUNDS` iterations, 32 bytes of output. Salt and checksum are in passlib's "adapted
//! base64" (`ab64`): the standard alphabet with `.` instead of `+`, without padding. Passlib
//! derives the key from the salt's raw bytes, not from its text.

use base64::alphabet::STANDARD;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::Engine;

/// How every legacy hash starts.
pub const PREFIX: &str = "$pbkdf2-sha256$";

/// Length of the derived key (SHA-256's output).
const CHECKSUM_LEN: usize = 32;

/// Rounds beyond this are refused rather than computed: a stored hash is data, and one with
/// billions of rounds would hold a hashing slot for hours. Passlib's default is 29,000.
const MAX_ROUNDS: u32 = 10_000_000;

/// Standard base64 without padding, tolerant of padding and of non-zero trailing bits, as
/// passlib's own decoder.
const AB64: GeneralPurpose = GeneralPurpose::new(
    &STANDARD,
    GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_padding_mode(DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true),
);

/// Whether `stored` is a passlib `pbkdf2_sha256` hash (whether or not it is well formed).
pub fn is_legacy(stored: &str) -> bool {
    stored.starts_with(PREFIX)
}

/// Whether `candidate` matches the passlib hash `stored`. A malformed hash never matches.
/// CPU-heavy (tens of thousands of HMAC rounds): call from a blocking thread.
pub fn verify(stored: &str, candidate: &str) -> bool {
    let Some((rounds, salt, checksum)) = parse(stored) else {
        return false;
    };
    let mut derived = [0u8; CHECKSUM_LEN];
    pbkdf2::pbkdf2_hmac::<sha2::Sha256>(candidate.as_bytes(), &salt, rounds, &mut derived);
    constant_time_eq(&derived, &checksum)
}

/// Rounds, salt bytes and checksum bytes of a well-formed hash.
fn parse(stored: &str) -> Option<(u32, Vec<u8>, Vec<u8>)> {
    let mut parts = stored.strip_prefix(PREFIX)?.split('$');
    let rounds: u32 = parts.next()?.parse().ok()?;
    let salt = ab64_decode(parts.next()?)?;
    let checksum = ab64_decode(parts.next()?)?;
    let well_formed = parts.next().is_none()
        && (1..=MAX_ROUNDS).contains(&rounds)
        && checksum.len() == CHECKSUM_LEN;
    well_formed.then_some((rounds, salt, checksum))
}

fn ab64_decode(text: &str) -> Option<Vec<u8>> {
    AB64.decode(text.replace('.', "+")).ok()
}

/// Compares without an early exit, so the time taken does not tell how much of a guess matched.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Made by passlib 1.7.4: `pbkdf2_sha256.hash("Legacy1!pass")` (29,000 rounds).
    const DEFAULT_ROUNDS: &str =
        "$pbkdf2-sha256$29000$gbDWOmeslbIW4lyLsba21g$EYqXfTCtnbXwaWhm0qSsxCShl1dB/VGWTKb5LlVfyiE";
    /// Made by passlib 1.7.4 with 1,000 rounds and a salt whose ab64 text holds `.` (a `+`).
    const DOTTED_SALT: &str =
        "$pbkdf2-sha256$1000$..//..//..//..//..//AQ$arkaidM5yCfN1tY1UTKhldWuZBDO1O1qAagY0PPHT40";

    #[test]
    fn verifies_passlib_hashes() {
        assert!(is_legacy(DEFAULT_ROUNDS));
        assert!(verify(DEFAULT_ROUNDS, "Legacy1!pass"));
        assert!(!verify(DEFAULT_ROUNDS, "Legacy1!pasS"));
        assert!(verify(DOTTED_SALT, "Old$ecret9"));
        assert!(!verify(DOTTED_SALT, "Old$ecret8"));
    }

    #[test]
    fn malformed_hashes_never_match() {
        for bad in [
            "",
            "$pbkdf2-sha256$",
            "$pbkdf2-sha256$0$..//..//..//..//..//AQ$arkaidM5yCfN1tY1UTKhldWuZBDO1O1qAagY0PPHT40",
            "$pbkdf2-sha256$x$..//..//..//..//..//AQ$arkaidM5yCfN1tY1UTKhldWuZBDO1O1qAagY0PPHT40",
            "$pbkdf2-sha256$1000$..//..//..//..//..//AQ$arkaid",
            "$pbkdf2-sha256$1000$..//..//..//..//..//AQ$arkaidM5yCfN1tY1UTKhldWuZBDO1O1qAagY0PPHT40$",
            "$pbkdf2-sha256$99999999999$AQ$arkaidM5yCfN1tY1UTKhldWuZBDO1O1qAagY0PPHT40",
        ] {
            assert!(!verify(bad, "Old$ecret9"), "{bad}");
        }
    }
}
