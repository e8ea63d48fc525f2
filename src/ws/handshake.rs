//! Before a link is up: the probe token, then `hello`.

use super::frames::{classify, Incoming};
use super::upgrade::Socket;
use crate::state::AppState;
use crate::store::Probe;
use futures::stream::SplitStream;
use futures::StreamExt;
use probe_protocol::{close, Hello, ProbeMessage, MAX_AGENT_LEN, PROTOCOL_VERSION};
use std::time::Duration;

/// Close code for "the server cannot serve you right now" (standard "try again later").
pub const TRY_AGAIN_LATER: u16 = 1013;

/// A refusal: close code and reason.
pub type Refusal = (u16, String);

/// The probe the token belongs to, if the token is valid for its current token version.
pub async fn authenticate(state: &AppState, token: Option<&str>) -> Result<Probe, Refusal> {
    let unauthorized = |reason: &str| (close::UNAUTHORIZED, reason.to_string());
    let token = token
        .ok_or_else(|| unauthorized("missing probe token (Authorization: Bearer or ?token=)"))?;
    let claims = state
        .tokens
        .verify_probe(token)
        .map_err(|_| unauthorized("invalid probe token"))?;
    let probe = state
        .store
        .probe(claims.probe)
        .await
        .map_err(|e| (TRY_AGAIN_LATER, format!("store unavailable: {e}")))?
        .ok_or_else(|| unauthorized("unknown probe"))?;
    if probe.token_version != claims.version {
        return Err(unauthorized("revoked probe token"));
    }
    Ok(probe)
}

/// Re-reads the probe once its link is registered with the hub: a revocation or removal that
/// landed between [`authenticate`] and the registration kicked no one, and is refused here.
pub async fn still_valid(state: &AppState, authenticated: &Probe) -> Result<(), Refusal> {
    let current = state
        .store
        .probe(authenticated.id)
        .await
        .map_err(|e| (TRY_AGAIN_LATER, format!("store unavailable: {e}")))?;
    match current {
        None => Err((close::UNAUTHORIZED, "probe removed".into())),
        Some(p) if p.token_version != authenticated.token_version => {
            Err((close::UNAUTHORIZED, "revoked probe token".into()))
        }
        Some(_) => Ok(()),
    }
}

/// Waits up to `timeout` for a valid `hello`: a client that upgrades and then stays silent
/// must not hold a link slot for long.
pub async fn hello(stream: &mut SplitStream<Socket>, timeout: Duration) -> Result<Hello, Refusal> {
    let violation = |reason: String| (close::PROTOCOL_VIOLATION, reason);
    let text = loop {
        let next = tokio::time::timeout(timeout, stream.next())
            .await
            .map_err(|_| violation(format!("no hello within {} s", timeout.as_secs())))?;
        match classify(next) {
            Incoming::Text(text) => break text,
            Incoming::Alive | Incoming::Pong(_) => continue,
            Incoming::Gone => return Err((close::GOING_AWAY, "closed before hello".into())),
            Incoming::Refuse(code, reason) => return Err((code, reason)),
        }
    };
    match ProbeMessage::decode(text.as_str()) {
        Ok(ProbeMessage::Hello(hello)) if hello.protocol != PROTOCOL_VERSION => {
            Err(violation(format!(
                "protocol: version {} is not supported (this server speaks {PROTOCOL_VERSION})",
                hello.protocol
            )))
        }
        Ok(ProbeMessage::Hello(hello)) if hello.total_credits == 0 => {
            Err(violation("total_credits: must be greater than zero".into()))
        }
        Ok(ProbeMessage::Hello(hello)) if hello.agent.len() > MAX_AGENT_LEN => {
            Err(violation(format!(
                "agent: at most {MAX_AGENT_LEN} bytes, not {}",
                hello.agent.len()
            )))
        }
        Ok(ProbeMessage::Hello(hello)) => Ok(hello),
        Ok(_) => Err(violation("the first message must be hello".into())),
        Err(e) => Err(violation(e.to_string())),
    }
}
