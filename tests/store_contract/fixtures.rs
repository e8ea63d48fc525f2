//! Records to store, valid and unique per call. Times are whole milliseconds, the precision every
//! backend keeps (MongoDB dates have no finer resolution).

use chrono::{DateTime, Duration, DurationRound, Utc};
use pladmed::domain::{Credits, Email, Location, OperationId, ProbeId, ResultId, UserId};
use pladmed::store::{
    Insertion, Link, MeasurementResult, Operation, PageLimit, Probe, Reward, SessionId, Store, User,
};
use probe_protocol::{ContentFormat, OperationKind, ResultFormat};
use serde_json::{json, Map};

/// Credits an operation reserves on each probe between `accepted` and `finished`.
pub const PER_PROBE: u64 = 5;

/// An amount of credits.
pub fn credits(amount: u64) -> Credits {
    Credits::new(amount).expect("valid amount")
}

/// Now, to the millisecond.
pub fn now() -> DateTime<Utc> {
    Utc::now()
        .duration_trunc(Duration::milliseconds(1))
        .expect("truncates")
}

/// A user with a fresh address and `balance` credits, not yet stored.
pub fn user(balance: u64) -> User {
    let id = UserId::generate();
    User {
        id,
        email: Email::parse(&format!("user-{id}@example.com")).expect("valid address"),
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
        credits: credits(balance),
        is_superuser: false,
    }
}

/// A user with `balance` credits, stored.
pub async fn stored_user(store: &dyn Store, balance: u64) -> User {
    let user = user(balance);
    store.insert_user(&user).await.expect("user stored");
    user
}

/// The current balance of a stored user.
pub async fn balance(store: &dyn Store, user: &User) -> u64 {
    let user = store.user(user.id).await.expect("store answers");
    user.expect("user exists").credits.get()
}

/// A probe of `owner` without a link, not yet stored.
pub fn probe(owner: &User) -> Probe {
    Probe {
        id: ProbeId::generate(),
        owner: owner.id,
        location: Location::new(-34.6037, -58.3816).expect("valid location"),
        token_version: 1,
        link: None,
    }
}

/// A probe of `owner`, stored.
pub async fn stored_probe(store: &dyn Store, owner: &User) -> Probe {
    let probe = probe(owner);
    store.insert_probe(&probe, 100).await.expect("probe stored");
    probe
}

/// A link of `session` through `instance` with `in_use` of 100 credits taken.
pub fn link(instance: &str, session: &str, in_use: u64) -> Link {
    Link {
        instance: instance.into(),
        session: SessionId(session.into()),
        total_credits: 100,
        in_use_credits: in_use,
        clock_offset_ms: Some(-1.5),
        connected_at: now(),
    }
}

/// A probe of `owner`, stored and linked through `instance` with nothing in use.
pub async fn linked_probe(store: &dyn Store, owner: &User, instance: &str) -> Probe {
    let mut probe = stored_probe(store, owner).await;
    let link = link(instance, &format!("session-{}", probe.id), 0);
    store.link_up(probe.id, &link).await.expect("link up");
    probe.link = Some(link);
    probe
}

/// The in-use credits of a stored probe's link; `None` without a link.
pub async fn in_use(store: &dyn Store, probe: &Probe) -> Option<u64> {
    let probe = store.probe(probe.id).await.expect("store answers");
    probe.expect("probe exists").link.map(|l| l.in_use_credits)
}

/// A ping of `owner` costing `cost`, on `probes`, stopping an hour from now; not yet stored.
pub fn operation(owner: &User, probes: &[&Probe], cost: u64) -> Operation {
    let mut params = Map::new();
    params.insert("ip".into(), json!("192.0.2.1"));
    Operation {
        id: OperationId::generate(),
        owner: owner.id,
        kind: OperationKind::Ping,
        params,
        probes: probes.iter().map(|p| p.id).collect(),
        credits: credits(cost),
        credits_per_probe: PER_PROBE,
        result_format: ResultFormat::Json,
        stop_time: now() + Duration::hours(1),
        created_at: now(),
        max_results_per_probe: 10_000,
    }
}

/// An operation of `owner` costing `cost` on `probes`, stored.
pub async fn stored_operation(
    store: &dyn Store,
    owner: &User,
    probes: &[&Probe],
    cost: u64,
) -> Operation {
    let operation = operation(owner, probes, cost);
    store
        .create_operation(&operation)
        .await
        .expect("operation stored");
    operation
}

/// What most cases start from, all stored: an owner, one probe of theirs linked through
/// `instance-a`, and an operation of theirs assigned to it.
pub struct Scene {
    pub owner: User,
    pub probe: Probe,
    pub operation: Operation,
}

/// A [`Scene`] whose owner had `balance` credits before paying `cost` for the operation.
pub async fn scene(store: &dyn Store, balance: u64, cost: u64) -> Scene {
    let owner = stored_user(store, balance).await;
    let probe = linked_probe(store, &owner, "instance-a").await;
    let operation = stored_operation(store, &owner, &[&probe], cost).await;
    Scene {
        owner,
        probe,
        operation,
    }
}

/// A fresh result of `probe` for `operation` under `code`.
pub fn result(operation: &Operation, probe: &Probe, code: &str) -> MeasurementResult {
    MeasurementResult {
        id: ResultId::generate(),
        operation: operation.id,
        probe: probe.id,
        unique_code: code.into(),
        format: ContentFormat::Json,
        content: json!([{ "type": "ping", "rtt": 12.5, "replies": [1, 2, 3] }]).into(),
        error: None,
        measured_at: now(),
        received_at: now(),
    }
}

/// Inserts `result`, paying `credits` to its probe's owner.
pub async fn insert(store: &dyn Store, result: &MeasurementResult, credits: u64) -> Insertion {
    let reward = Reward {
        user: store
            .probe(result.probe)
            .await
            .expect("store answers")
            .expect("probe exists")
            .owner,
        credits: self::credits(credits),
    };
    store
        .insert_result(result, &reward)
        .await
        .expect("result inserted")
}

/// Every stored result of `operation`, in storage order.
pub async fn results_of(store: &dyn Store, operation: &Operation) -> Vec<MeasurementResult> {
    let all = store
        .results(operation.id, None, PageLimit::count(10_000))
        .await;
    all.expect("store answers")
}

/// A reward of `amount` for the owner of `probe`.
pub fn reward(probe: &Probe, amount: u64) -> Reward {
    Reward {
        user: probe.owner,
        credits: credits(amount),
    }
}
