//! Signed tokens: short-lived user tokens and re-derivable probe tokens.
//!
//! Both are HS256 JWTs under the same secret, told apart by their audience, so a probe token can
//! never be used as a user token and vice versa. The algorithm is pinned to HS256.
//!
//! A probe token signs (probe id, token version) and nothing else, so the server can compute it
//! again whenever the owner asks (GET /probes/me) and the database never holds a usable token.
//! Bumping the probe's `token_version` revokes every token issued before.

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
        }
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
        let claims = decode::<UserClaims>(token, &self.decoding, &validation)
            .map_err(|e| InvalidToken(e.to_string()))?
            .claims;
        claims
            .sub
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
        let claims = decode::<ProbeClaims>(token, &self.decoding, &validation)
            .map_err(|e| InvalidToken(e.to_string()))?
            .claims;
        let probe = claims
            .sub
            .parse()
            .map_err(|_| InvalidToken("bad subject".into()))?;
        Ok(ProbeTokenClaims {
            probe,
            version: claims.ver,
        })
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
    }
}
