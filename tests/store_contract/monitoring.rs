//! What monitoring asks of the store: a write that leaves no trace, and cheap counts.

use crate::backend::Backend;
use crate::fixtures::{insert, result, scene, stored_operation, stored_probe, stored_user, Scene};
use pladmed::store::{Inventory, SessionId};

pub async fn a_marker_is_written_and_deleted_without_a_trace(backend: &Backend) {
    let store = backend.open().await;
    store.write_marker("health-test").await.expect("written");
    // A marker left behind would make the same name a duplicate the second time.
    store.write_marker("health-test").await.expect("again");
    let inventory = store.inventory().await.unwrap();
    assert_eq!(inventory, Inventory::default(), "nothing else was written");
}

pub async fn inventory_counts_every_kind_of_record(backend: &Backend) {
    let store = backend.open().await;
    assert_eq!(store.inventory().await.unwrap(), Inventory::default());
    let Scene {
        owner,
        probe,
        operation,
    } = scene(&*store, 100, 10).await;
    let offline = stored_probe(&*store, &owner).await;
    stored_user(&*store, 0).await;
    stored_operation(&*store, &owner, &[&offline], 10).await;
    for code in ["run-1", "run-2", "run-3"] {
        insert(&*store, &result(&operation, &probe, code), 1).await;
    }

    let counted = store.inventory().await.unwrap();
    let expected = Inventory {
        users: 2,
        probes: 2,
        probes_connected: 1,
        operations: 2,
        results: 3,
    };
    assert_eq!(counted, expected);

    let session = SessionId(format!("session-{}", probe.id));
    store.link_down(probe.id, &session).await.unwrap();
    let unlinked = store.inventory().await.unwrap();
    assert_eq!(unlinked.probes_connected, 0);
    store.delete_all().await.unwrap();
    assert_eq!(store.inventory().await.unwrap(), Inventory::default());
}
