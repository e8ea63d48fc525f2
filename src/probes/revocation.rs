//! Revoking a probe's tokens and removing a probe, for the REST API and the admin socket alike.
//!
//! The store change comes first, then the kick: a link that authenticated before the change
//! but registers with the hub after the kick would escape it, so a new link re-reads its probe
//! once registered (`ws::handshake::still_valid`) and sees the change.

use crate::domain::ProbeId;
use crate::hub::{kick, Hub};
use crate::store::{Probe, Store, StoreResult};

/// A probe whose tokens were revoked.
#[derive(Debug, Clone, PartialEq)]
pub struct Revoked {
    /// The probe with its new token version.
    pub probe: Probe,
    /// Whether a link of the probe was open on this instance (and is being closed; a link on
    /// another instance sharing the hub is closed by that instance).
    pub link_closed: bool,
}

/// Revokes every token of the probe and closes its link, on whichever instance; `None` if there is
/// no such probe.
pub async fn revoke(store: &dyn Store, hub: &dyn Hub, id: ProbeId) -> StoreResult<Option<Revoked>> {
    let Some(probe) = store.revoke_probe_tokens(id).await? else {
        return Ok(None);
    };
    let link_closed = hub.kick(id, kick::REVOKED);
    tracing::info!(probe = %id, version = probe.token_version, link_closed, "probe tokens revoked");
    Ok(Some(Revoked { probe, link_closed }))
}

/// Removes the probe (its results stay) and closes its link, on whichever instance. `None` if there
/// is no such probe, else whether a link was open here.
pub async fn remove(store: &dyn Store, hub: &dyn Hub, id: ProbeId) -> StoreResult<Option<bool>> {
    if !store.remove_probe(id).await? {
        return Ok(None);
    }
    let link_closed = hub.kick(id, kick::REMOVED);
    tracing::info!(probe = %id, link_closed, "probe removed");
    Ok(Some(link_closed))
}
