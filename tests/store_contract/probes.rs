//! Probes and their link state.

use crate::backend::Backend;
use crate::fixtures::{link, linked_probe, probe, stored_probe, stored_user, user};
use pladmed::domain::ProbeId;
use pladmed::store::{Probe, SessionId, StoreError};

pub async fn probes_are_listed_in_creation_order_and_by_owner(backend: &Backend) {
    let store = backend.open().await;
    let (alice, bob) = (stored_user(&*store, 0).await, stored_user(&*store, 0).await);
    let mut created = Vec::new();
    for owner in [&alice, &bob, &alice, &bob, &alice] {
        created.push(stored_probe(&*store, owner).await);
    }

    let all = store.probes(None).await.unwrap();
    let of_alice = store.probes(Some(alice.id)).await.unwrap();

    assert_eq!(all, created);
    let expected: Vec<_> = created
        .into_iter()
        .filter(|p| p.owner == alice.id)
        .collect();
    assert_eq!(of_alice, expected);
    assert_eq!(
        store.probe(expected[1].id).await.unwrap().as_ref(),
        Some(&expected[1])
    );
}

pub async fn probes_are_found_by_id_in_the_order_asked(backend: &Backend) {
    let store = backend.open().await;
    let owner = stored_user(&*store, 0).await;
    let (a, b) = (
        stored_probe(&*store, &owner).await,
        stored_probe(&*store, &owner).await,
    );
    let unknown = ProbeId::generate();

    let found = store
        .probes_by_id(&[b.id, unknown, a.id, b.id])
        .await
        .unwrap();

    assert_eq!(
        found,
        vec![Some(b.clone()), None, Some(a.clone()), Some(b.clone())]
    );
    assert!(store.probes_by_id(&[]).await.unwrap().is_empty());

    // More ids than one query of the MongoDB store takes, repeated and unknown ones among them.
    let many: Vec<ProbeId> = (0..300)
        .flat_map(|_| [a.id, ProbeId::generate(), b.id])
        .collect();
    let found = store.probes_by_id(&many).await.unwrap();
    let expected: Vec<Option<Probe>> = (0..300)
        .flat_map(|_| [Some(a.clone()), None, Some(b.clone())])
        .collect();
    assert!(found == expected, "900 ids, in the order asked");
}

pub async fn link_up_replaces_the_link_state(backend: &Backend) {
    let store = backend.open().await;
    let owner = stored_user(&*store, 0).await;
    let probe = linked_probe(&*store, &owner, "instance-a").await;
    let newer = link("instance-b", "session-2", 30);

    store.link_up(probe.id, &newer).await.unwrap();

    let stored = store.probe(probe.id).await.unwrap().unwrap();
    assert_eq!(stored.link, Some(newer));
}

pub async fn link_down_needs_the_current_session(backend: &Backend) {
    let store = backend.open().await;
    let owner = stored_user(&*store, 0).await;
    let probe = linked_probe(&*store, &owner, "instance-a").await;
    let current = probe.link.clone().unwrap().session;

    store
        .link_down(probe.id, &SessionId("an-older-session".into()))
        .await
        .unwrap();
    let after_stale = store.probe(probe.id).await.unwrap().unwrap();
    store.link_down(probe.id, &current).await.unwrap();
    let after_current = store.probe(probe.id).await.unwrap().unwrap();

    assert_eq!(
        after_stale.link, probe.link,
        "a stale session must not unlink"
    );
    assert_eq!(after_current.link, None);
}

pub async fn reset_links_clears_only_that_instance(backend: &Backend) {
    let store = backend.open().await;
    let owner = stored_user(&*store, 0).await;
    let on_a = linked_probe(&*store, &owner, "instance-a").await;
    let also_on_a = linked_probe(&*store, &owner, "instance-a").await;
    let on_b = linked_probe(&*store, &owner, "instance-b").await;
    let unlinked = stored_probe(&*store, &owner).await;

    store.reset_links("instance-a").await.unwrap();

    let link_of = |id| {
        let store = store.clone();
        async move { store.probe(id).await.unwrap().unwrap().link }
    };
    assert_eq!(link_of(on_a.id).await, None);
    assert_eq!(link_of(also_on_a.id).await, None);
    assert_eq!(link_of(on_b.id).await, on_b.link);
    assert_eq!(link_of(unlinked.id).await, None);
}

/// Twenty registrations of one owner race from two store handles (on MongoDB, two clients, as
/// two server instances would be) against a cap of five: exactly five are stored.
pub async fn racing_registrations_never_pass_the_per_owner_cap(backend: &Backend) {
    const CAP: u32 = 5;
    let first = backend.open().await;
    let second = match backend {
        Backend::Mongo { .. } => backend.open().await,
        Backend::Embedded(_) => first.clone(),
    };
    let owner = stored_user(&*first, 0).await;
    let other = stored_user(&*first, 0).await;
    let stores = [first.clone(), second];
    let racing = (0..20).map(|i| {
        let (store, probe) = (stores[i % 2].clone(), probe(&owner));
        async move { store.insert_probe(&probe, CAP).await }
    });
    let outcomes = futures::future::join_all(racing).await;

    let stored = outcomes.iter().filter(|o| o.is_ok()).count();
    let refused = outcomes
        .iter()
        .filter(|o| matches!(o, Err(StoreError::TooManyProbes(CAP))))
        .count();
    assert_eq!((stored, refused), (5, 15), "{outcomes:?}");
    assert_eq!(first.probe_count(owner.id).await.unwrap(), 5);
    assert_eq!(first.probes(Some(owner.id)).await.unwrap().len(), 5);
    first.insert_probe(&probe(&other), CAP).await.unwrap();
    assert_eq!(first.probe_count(other.id).await.unwrap(), 1);
}

pub async fn a_probe_of_an_unknown_owner_is_refused(backend: &Backend) {
    let store = backend.open().await;
    let stranger = user(0);
    assert_refused!(
        store.insert_probe(&probe(&stranger), 5).await,
        StoreError::NotFound("user")
    );
    assert!(store.probes(None).await.unwrap().is_empty());
}
