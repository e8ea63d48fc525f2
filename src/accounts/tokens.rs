//! Signed tokens: short-lived user tokens and re-derivable probe tokens.
//!
//! Both are HS256 JWTs under the same secret, told apart by their audience, so a probe token can
//! never be used as a user token and vice versa. The algorithm is pinned to HS256.
//!
//! A probe token signs (probe id, token version) and nothing else, so the server can compute it
//! again whenever the owner asks (GET /probes/me) and the database never holds a usable token.
//! Bumping the probe's `token_version` revokes every token issued before.
//!
//! Tokens of the original backend (an imported deployment's probes and browser sessions) are
//! accepted too when its `SECRET_KEY` is configured ([`TokenKeys::with_legacy_secret`]): it
//! signed `{"identifier", "owner_id", "location"}` for a probe and `{"_id", "email", "credits",
//! "is_superuser"}` for a user with PyJWT, HS256, no audience and no expiry. A legacy probe
//! token counts as token version 0, so rotating the probe's token ends it; both kinds end when
//! the key is no longer configured.

use crate::domain::{ProbeId, UserId};
use jsonwebtoken::{decode, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use std::time::Duration;

const USER_AUDIENCE: &str = "pladmed-user";
const PROBE_AUDIENCE: &str = "pladmed-probe";

/// Signs and checks tokens.
#[derive(Clone)]
pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    user_ttl: Duration,
    /// The original backend's `SECRET_KEY`, when its tokens are still accepted.
    legacy: Option<DecodingKey>,
}

/// A token was missing, malformed, expired, signed with another key or meant for another use.
#[derive(Debug, thiserror::Error)]
#[error("invalid token: {0}")]
pub struct InvalidToken(String);

#[derive(Serialize, Deserialize)]
struct UserClaims {
    sub: String,
    email: String,
    aud: String,
    iat: i64,
    exp: i64,
}

/// What the original signed for a user that names the account (also `email`, `credits` and
/// `is_superuser`, unused: they are read from the account, whose id the import kept).
#[derive(Deserialize)]
struct LegacyUserClaims {
    #[serde(rename = "_id")]
    id: String,
}

/// What the original signed for a probe (also `owner_id` and `location`, unused).
#[derive(Deserialize)]
struct LegacyProbeClaims {
    identifier: String,
}

/// The token version a legacy probe token stands for: the version of an imported probe.
pub const LEGACY_TOKEN_VERSION: u32 = 0;

#[derive(Serialize, Deserialize)]
struct ProbeClaims {
    sub: String,
    ver: u32,
    aud: String,
}

/// What a valid probe token says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProbeTokenClaims {
    /// The probe.
    pub probe: ProbeId,
    /// Must equal the probe's current `token_version`.
    pub version: u32,
}

impl TokenKeys {
    /// Keys from a shared secret; user tokens live `user_ttl`.
    pub fn new(secret: &[u8], user_ttl: Duration) -> Self {
        Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            user_ttl,
            legacy: None,
        }
    }

    /// Also accepts the tokens the original backend signed with `secret` (its `SECRET_KEY`).
    pub fn with_legacy_secret(mut self, secret: &[u8]) -> Self {
        self.legacy = Some(DecodingKey::from_secret(secret));
        self
    }

    /// The claims of a legacy token: signed with the legacy key, HS256, no audience, no expiry
    /// required (an `exp`, had one been added, is checked as PyJWT checked it).
    fn verify_legacy<T: serde::de::DeserializeOwned>(&self, token: &str) -> Option<T> {
        let key = self.legacy.as_ref()?;
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_required_spec_claims::<&str>(&[]);
        validation.validate_aud = false;
        validation.leeway = 0;
        decode::<T>(token, key, &validation).ok().map(|t| t.claims)
    }

    /// A token for `user`, expiring after the configured lifetime.
    pub fn issue_user(&self, user: UserId, email: &str) -> String {
        let now = chrono::Utc::now().timestamp();
        let claims = UserClaims {
            sub: user.to_string(),
            email: email.to_string(),
            aud: USER_AUDIENCE.into(),
            iat: now,
            exp: now + self.user_ttl.as_secs() as i64,
        };
        self.sign(&claims)
    }

    /// The user a user token names, if it is valid and unexpired.
    pub fn verify_user(&self, token: &str) -> Result<UserId, InvalidToken> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_audience(&[USER_AUDIENCE]);
        validation.set_required_spec_claims(&["exp", "sub", "aud"]);
        validation.leeway = 0;
        let subject = match decode::<UserClaims>(token, &self.decoding, &validation) {
            Ok(decoded) => decoded.claims.sub,
            Err(error) => match self.verify_legacy::<LegacyUserClaims>(token) {
                Some(legacy) => legacy.id,
                None => return Err(InvalidToken(error.to_string())),
            },
        };
        subject
            .parse()
            .map_err(|_| InvalidToken("bad subject".into()))
    }

    /// The token of a probe at a token version: the same inputs always give the same token.
    pub fn probe_token(&self, probe: ProbeId, version: u32) -> String {
        let claims = ProbeClaims {
            sub: probe.to_string(),
            ver: version,
            aud: PROBE_AUDIENCE.into(),
        };
        self.sign(&claims)
    }

    /// What a probe token says, if its signature and audience are right.
    pub fn verify_probe(&self, token: &str) -> Result<ProbeTokenClaims, InvalidToken> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_audience(&[PROBE_AUDIENCE]);
        validation.set_required_spec_claims(&["sub", "aud"]);
        validation.validate_exp = false;
        let (subject, version) = match decode::<ProbeClaims>(token, &self.decoding, &validation) {
            Ok(decoded) => (decoded.claims.sub, decoded.claims.ver),
            Err(error) => match self.verify_legacy::<LegacyProbeClaims>(token) {
                Some(legacy) => (legacy.identifier, LEGACY_TOKEN_VERSION),
                None => return Err(InvalidToken(error.to_string())),
            },
        };
        let probe = subject
            .parse()
            .map_err(|_| InvalidToken("bad subject".into()))?;
        Ok(ProbeTokenClaims { probe, version })
    }

    fn sign<T: Serialize>(&self, claims: &T) -> String {
        encode(&Header::new(Algorithm::HS256), claims, &self.encoding)
            .expect("HS256 signing of plain claims cannot fail")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> TokenKeys {
        TokenKeys::new(b"0123456789abcdef0123456789abcdef", Duration::from_secs(60))
    }

    #[test]
    fn user_token_round_trips() {
        let id = UserId::generate();
        let token = keys().issue_user(id, "a@b.cd");
        assert_eq!(keys().verify_user(&token).unwrap(), id);
    }

    #[test]
    fn probe_token_is_deterministic_and_not_a_user_token() {
        let probe = ProbeId::generate();
        let token = keys().probe_token(probe, 3);
        assert_eq!(token, keys().probe_token(probe, 3));
        assert_ne!(token, keys().probe_token(probe, 4));
        assert_eq!(keys().verify_probe(&token).unwrap().version, 3);
        assert!(keys().verify_user(&token).is_err());
        let user_token = keys().issue_user(UserId::generate(), "a@b.cd");
        assert!(keys().verify_probe(&user_token).is_err());
    }

    /// Signed by PyJWT 1.7.1 (the original's) with `SECRET_KEY = "original-secret-key"`, as
    /// the original's POST /probes and POST /login sign them.
    const LEGACY_PROBE: &str = "eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9.eyJpZGVudGlmaWVyIjoiNWYxYjJjM2Q0ZTVmNjA3MTgyOTNhNGI1Iiwib3duZXJfaWQiOiI1ZjFiMmMzZDRlNWY2MDcxODI5M2E0YjEiLCJsb2NhdGlvbiI6eyJsb25naXR1ZGUiOi01OC4zOCwibGF0aXR1ZGUiOi0zNC42fX0.GhJ1fDgyzaf6X3RwLd29XDAFE5oygioOCCzOudc5yw4";
    const LEGACY_USER: &str = "eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9.eyJfaWQiOiI1ZjFiMmMzZDRlNWY2MDcxODI5M2E0YjEiLCJlbWFpbCI6Im9sZEBleGFtcGxlLm9yZyIsImNyZWRpdHMiOjEyMCwiaXNfc3VwZXJ1c2VyIjpmYWxzZX0.0Xa2oprWf8BQbQmKHd9xf91vhHR4NYIVPSrr0UKcotc";

    #[test]
    fn legacy_tokens_are_accepted_only_with_the_legacy_key() {
        let legacy = keys().with_legacy_secret(b"original-secret-key");
        let probe = legacy.verify_probe(LEGACY_PROBE).unwrap();
        assert_eq!(probe.probe.to_string(), "5f1b2c3d4e5f60718293a4b5");
        assert_eq!(probe.version, LEGACY_TOKEN_VERSION);
        let user = legacy.verify_user(LEGACY_USER).unwrap();
        assert_eq!(user.to_string(), "5f1b2c3d4e5f60718293a4b1");
        // Each kind only as itself.
        assert!(legacy.verify_user(LEGACY_PROBE).is_err());
        assert!(legacy.verify_probe(LEGACY_USER).is_err());
        // Without the key, or with another one: refused.
        assert!(keys().verify_probe(LEGACY_PROBE).is_err());
        assert!(keys().verify_user(LEGACY_USER).is_err());
        let wrong = keys().with_legacy_secret(b"another-key");
        assert!(wrong.verify_probe(LEGACY_PROBE).is_err());
        // Our own tokens still work beside them.
        let id = ProbeId::generate();
        assert_eq!(
            legacy
                .verify_probe(&legacy.probe_token(id, 2))
                .unwrap()
                .version,
            2
        );
    }

    #[test]
    fn other_key_expired_and_garbage_are_refused() {
        let other = TokenKeys::new(b"another-secret-another-secret-xx", Duration::from_secs(60));
        let id = UserId::generate();
        assert!(keys().verify_user(&other.issue_user(id, "a@b.cd")).is_err());
        assert!(keys().verify_user("not.a.token").is_err());
        let expired = UserClaims {
            sub: id.to_string(),
            email: "a@b.cd".into(),
            aud: USER_AUDIENCE.into(),
            iat: 0,
            exp: 1,
        };
        assert!(keys().verify_user(&keys().sign(&expired)).is_err());
        // Nor does the legacy fallback revive it when an operator reused the key.
        let reused = keys().with_legacy_secret(b"0123456789abcdef0123456789abcdef");
        assert!(reused.verify_user(&keys().sign(&expired)).is_err());
    }
}
