//! Before a link is up: the probe token, then `hello`.

use super::frames::{classify, Incoming};
use super::upgrade::Socket;
use crate::state::AppState;
use crate::store::Probe;
use futures::stream::SplitStream;
use futures::StreamExt;
use probe_protocol::{close, CloseReason, Hello, ProbeMessage, MAX_AGENT_LEN, PROTOCOL_VERSION};
use std::fmt::Display;
use std::time::Duration;

/// The close of a link the server cannot serve now: its store failed.
pub fn store_unavailable(error: impl Display) -> CloseReason {
    CloseReason::new(
        close::TRY_AGAIN_LATER,
        format!("store unavailable: {error}"),
    )
}

/// The probe the token belongs to, if the token is valid for its current token version.
pub async fn authenticate(state: &AppState, token: Option<&str>) -> Result<Probe, CloseReason> {
    let unauthorized = |reason: &'static str| CloseReason::fixed(close::UNAUTHORIZED, reason);
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
        .map_err(store_unavailable)?
        .ok_or_else(|| unauthorized("unknown probe"))?;
    if probe.token_version != claims.version {
        return Err(unauthorized("revoked probe token"));
    }
    Ok(probe)
}

/// Re-reads the probe once its link is registered with the hub: a revocation or removal that
/// landed between [`authenticate`] and the registration kicked no one, and is refused here.
pub async fn still_valid(state: &AppState, authenticated: &Probe) -> Result<(), CloseReason> {
    let current = state
        .store
        .probe(authenticated.id)
        .await
        .map_err(store_unavailable)?;
    match current {
        None => Err(CloseReason::fixed(close::UNAUTHORIZED, "probe removed")),
        Some(p) if p.token_version != authenticated.token_version => Err(CloseReason::fixed(
            close::UNAUTHORIZED,
            "revoked probe token",
        )),
        Some(_) => Ok(()),
    }
}

/// Waits up to `timeout` for a valid `hello`: a client that upgrades and then stays silent
/// must not hold a link slot for long.
pub async fn hello(
    stream: &mut SplitStream<Socket>,
    timeout: Duration,
) -> Result<Hello, CloseReason> {
    let violation = |reason: String| CloseReason::new(close::PROTOCOL_VIOLATION, reason);
    let text = loop {
        let next = tokio::time::timeout(timeout, stream.next())
            .await
            .map_err(|_| violation(format!("no hello within {} s", timeout.as_secs())))?;
        match classify(next) {
            Incoming::Text(text) => break text,
            Incoming::Alive | Incoming::Pong(_) => continue,
            Incoming::Gone => {
                return Err(CloseReason::fixed(close::GOING_AWAY, "closed before hello"))
            }
            Incoming::Refuse(refusal) => return Err(refusal),
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
