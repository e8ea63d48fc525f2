//! Revoking a probe's tokens and removing a probe.

use crate::backend::Backend;
use crate::fixtures::{insert, linked_probe, result, results_of, scene, stored_probe, Scene};
use pladmed::domain::ProbeId;

pub async fn revoking_bumps_the_token_version_and_clears_the_link(backend: &Backend) {
    let store = &*backend.open().await;
    let Scene { owner, probe, .. } = scene(store, 10, 0).await;
    let bystander = linked_probe(store, &owner, "instance-a").await;

    let revoked = store.revoke_probe_tokens(probe.id).await.unwrap().unwrap();
    let again = store.revoke_probe_tokens(probe.id).await.unwrap().unwrap();

    assert_eq!(revoked.token_version, probe.token_version + 1);
    assert_eq!(revoked.link, None, "the link used a revoked token");
    assert_eq!(again.token_version, probe.token_version + 2);
    assert_eq!(store.probe(probe.id).await.unwrap(), Some(again));
    assert_eq!(store.probe(bystander.id).await.unwrap(), Some(bystander));
}

pub async fn revoking_an_unknown_probe_is_none(backend: &Backend) {
    let store = &*backend.open().await;

    let revoked = store.revoke_probe_tokens(ProbeId::generate()).await;

    assert_eq!(revoked.unwrap(), None);
}

pub async fn removing_a_probe_hides_it_and_keeps_its_results(backend: &Backend) {
    let store = &*backend.open().await;
    let Scene {
        owner,
        probe,
        operation,
    } = scene(store, 10, 5).await;
    let kept = stored_probe(store, &owner).await;
    let stored = result(&operation, &probe, "run-1");
    insert(store, &stored, 0).await;

    assert!(store.remove_probe(probe.id).await.unwrap());

    assert_eq!(store.probe(probe.id).await.unwrap(), None);
    let found = store.probes_by_id(&[probe.id, kept.id]).await.unwrap();
    assert_eq!(found, vec![None, Some(kept.clone())]);
    assert_eq!(store.probes(None).await.unwrap(), vec![kept.clone()]);
    assert_eq!(store.probes(Some(owner.id)).await.unwrap(), vec![kept]);
    assert_eq!(results_of(store, &operation).await, vec![stored]);
    assert!(!store.remove_probe(probe.id).await.unwrap(), "removed once");
    assert_eq!(store.revoke_probe_tokens(probe.id).await.unwrap(), None);
}
