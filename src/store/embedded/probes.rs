//! Probes and the state of their links.

use super::tables::{decode, get, put, scan, PROBES, USERS};
use crate::domain::{ProbeId, UserId};
use crate::store::{Link, Probe, SessionId, StoreError, StoreResult};
use redb::{ReadTransaction, ReadableTable, WriteTransaction};

/// Registers a probe unless its id is taken or its owner has `max_per_owner` probes. redb runs
/// one write transaction at a time, so the count cannot change between check and insert.
pub(super) fn insert_probe(
    txn: &WriteTransaction,
    probe: &Probe,
    max_per_owner: u32,
) -> StoreResult<()> {
    if txn
        .open_table(USERS)?
        .get(&probe.owner.bytes()[..])?
        .is_none()
    {
        return Err(StoreError::NotFound("user"));
    }
    let mut probes = txn.open_table(PROBES)?;
    let key = probe.id.bytes();
    if probes.get(&key[..])?.is_some() {
        return Err(StoreError::Duplicate("probe"));
    }
    if probe_count(&probes, probe.owner)? >= u64::from(max_per_owner) {
        return Err(StoreError::TooManyProbes(max_per_owner));
    }
    put(&mut probes, &key, probe)
}

/// The probes of `owner`: the one count the per-user cap uses. A full scan, as [`probes`].
pub(super) fn probe_count(
    probes: &impl ReadableTable<&'static [u8], &'static [u8]>,
    owner: UserId,
) -> StoreResult<u64> {
    let mut count = 0;
    for entry in probes.iter()? {
        let probe: Probe = decode(entry?.1.value())?;
        count += u64::from(probe.owner == owner);
    }
    Ok(count)
}

/// The probe with that id.
pub(super) fn probe(txn: &ReadTransaction, id: ProbeId) -> StoreResult<Option<Probe>> {
    get(&txn.open_table(PROBES)?, &id.bytes())
}

/// The probes with these ids, in the same order.
pub(super) fn probes_by_id(
    txn: &ReadTransaction,
    ids: &[ProbeId],
) -> StoreResult<Vec<Option<Probe>>> {
    let table = txn.open_table(PROBES)?;
    ids.iter().map(|id| get(&table, &id.bytes())).collect()
}

/// Probes in creation order (the key order), optionally of one owner. A full scan: the embedded
/// store serves single-machine deployments with few probes.
pub(super) fn probes(txn: &ReadTransaction, owner: Option<UserId>) -> StoreResult<Vec<Probe>> {
    scan(&txn.open_table(PROBES)?, |p: &Probe| {
        owner.is_none_or(|o| p.owner == o)
    })
}

/// Replaces the link state of a probe; [`StoreError::NotFound`] if there is no such probe.
pub(super) fn link_up(txn: &WriteTransaction, id: ProbeId, link: &Link) -> StoreResult<()> {
    let updated = update_link(txn, id, |current| *current = Some(link.clone()))?;
    if updated {
        Ok(())
    } else {
        Err(StoreError::NotFound("probe"))
    }
}

/// Clears the link of a probe if it is still `session`; a probe that is gone has no link to clear.
pub(super) fn link_down(
    txn: &WriteTransaction,
    id: ProbeId,
    session: &SessionId,
) -> StoreResult<()> {
    update_link(txn, id, |current| {
        if current.as_ref().is_some_and(|l| &l.session == session) {
            *current = None;
        }
    })
    .map(drop)
}

/// Clears the links held by `instance`.
pub(super) fn reset_links(txn: &WriteTransaction, instance: &str) -> StoreResult<()> {
    let mut probes = txn.open_table(PROBES)?;
    // Collected first: a redb table cannot be written while it is being iterated.
    let linked = scan(&probes, |p: &Probe| {
        p.link.as_ref().is_some_and(|l| l.instance == instance)
    })?;
    for mut probe in linked {
        probe.link = None;
        put(&mut probes, &probe.id.bytes(), &probe)?;
    }
    Ok(())
}

/// Bumps the token version and clears the link; `None` if there is no such probe.
pub(super) fn revoke_probe_tokens(
    txn: &WriteTransaction,
    id: ProbeId,
) -> StoreResult<Option<Probe>> {
    let mut probes = txn.open_table(PROBES)?;
    let key = id.bytes();
    let Some(mut probe) = get::<Probe>(&probes, &key)? else {
        return Ok(None);
    };
    probe.token_version = next_token_version(&probe)?;
    probe.link = None;
    put(&mut probes, &key, &probe)?;
    Ok(Some(probe))
}

/// The version after the probe's current one. Wrapping around would revive the tokens of
/// version 0, so the last version is final (four billion revocations of one probe).
fn next_token_version(probe: &Probe) -> StoreResult<u32> {
    probe
        .token_version
        .checked_add(1)
        .ok_or_else(|| StoreError::Corrupt(format!("probe {}: token_version exhausted", probe.id)))
}

/// Deletes the probe record; results and assignments are keyed apart and stay.
pub(super) fn remove_probe(txn: &WriteTransaction, id: ProbeId) -> StoreResult<bool> {
    let mut probes = txn.open_table(PROBES)?;
    let removed = probes.remove(&id.bytes()[..])?.is_some();
    Ok(removed)
}

/// Applies `change` to the link of a probe and stores it; `false` if there is no such probe.
pub(super) fn update_link(
    txn: &WriteTransaction,
    id: ProbeId,
    change: impl FnOnce(&mut Option<Link>),
) -> StoreResult<bool> {
    let mut probes = txn.open_table(PROBES)?;
    let key = id.bytes();
    let Some(mut probe) = get::<Probe>(&probes, &key)? else {
        return Ok(false);
    };
    change(&mut probe.link);
    put(&mut probes, &key, &probe)?;
    Ok(true)
}
