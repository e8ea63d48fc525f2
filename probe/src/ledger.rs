//! The operations this probe took on, one fsync'd file each.
//!
//! An operation is recorded before `accepted` is sent: the coordinator stops re-sending an
//! accepted operation, so a probe that crashed after accepting must find it on disk to resume
//! its schedule. The coordinator does not acknowledge `accepted` or `finished`; both are
//! idempotent, so the link announces them again on every new connection. A finished record is
//! kept for [`FINISHED_RETENTION`] after the operation's end, the end of its stop minute (the
//! coordinator re-sends an
//! unaccepted operation until its end, and a re-sent operation must not run twice), then
//! dropped.
//! A record of an operation the coordinator no longer has is forgotten at once, finished or
//! not: announcing it again would only earn another `unknown_operation` on every link.

use crate::durable::RecordDir;
use chrono::{DateTime, TimeDelta, Utc};
use probe_protocol::{params, OperationOrder};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use tokio::sync::Notify;

/// How long a finished operation is remembered after its stop time.
pub const FINISHED_RETENTION: TimeDelta = TimeDelta::hours(1);

/// One operation as the probe keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OperationRecord {
    /// The order as the coordinator sent it.
    pub order: OperationOrder,
    /// When the probe took it on (schedule clock): the `now` its parameters are read against,
    /// so that they read the same after a restart.
    pub received_at: DateTime<Utc>,
    /// When a finished record may be dropped.
    pub forget_after: DateTime<Utc>,
    /// Its schedule is over; `finished` is (re)announced until the record is dropped.
    pub finished: bool,
}

impl OperationRecord {
    /// A new, unfinished record of `order` taken on at `now`.
    pub fn new(order: OperationOrder, now: DateTime<Utc>) -> Self {
        let end = params::parse(order.kind, &order.params, now)
            .map(|p| p.schedule().end())
            .unwrap_or(now);
        Self {
            order,
            received_at: now,
            forget_after: end + FINISHED_RETENTION,
            finished: false,
        }
    }

    /// The operation's identifier.
    pub fn id(&self) -> &str {
        &self.order.operation_id
    }
}

/// What [`Ledger::admit`] made of an order.
#[derive(Debug, Clone, PartialEq)]
pub enum Admission {
    /// A new operation, now recorded: start its schedule.
    New(OperationRecord),
    /// An operation already recorded (the coordinator re-sends unaccepted ones): nothing to run.
    Known,
}

/// Whether the link should announce an operation as accepted, and as finished too.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Progress {
    /// The operation.
    pub operation_id: String,
    /// Its schedule is over.
    pub finished: bool,
}

/// Every operation this probe knows, on disk and in memory.
#[derive(Debug)]
pub struct Ledger {
    records: RecordDir,
    by_id: Mutex<BTreeMap<String, OperationRecord>>,
    outgoing: Arc<Notify>,
}

impl Ledger {
    /// Opens the ledger in `dir`; `outgoing` is notified when there is progress to announce.
    pub fn open(dir: PathBuf, outgoing: Arc<Notify>) -> io::Result<Self> {
        let records = RecordDir::open(dir)?;
        let by_id = records
            .load::<OperationRecord>()?
            .into_iter()
            .map(|record| (record.id().to_string(), record))
            .collect();
        Ok(Self {
            records,
            by_id: Mutex::new(by_id),
            outgoing,
        })
    }

    /// Records `order` durably unless it is already known.
    pub async fn admit(&self, order: OperationOrder, now: DateTime<Utc>) -> io::Result<Admission> {
        if self.lock().contains_key(&order.operation_id) {
            return Ok(Admission::Known);
        }
        let record = OperationRecord::new(order, now);
        self.store(record.clone()).await?;
        Ok(Admission::New(record))
    }

    /// Marks the operation finished, durably.
    pub async fn finish(&self, operation_id: &str) -> io::Result<()> {
        let record = self.lock().get(operation_id).cloned();
        match record {
            Some(record) if !record.finished => {
                self.store(OperationRecord {
                    finished: true,
                    ..record
                })
                .await
            }
            _ => Ok(()),
        }
    }

    /// Drops finished records past their retention; returns how many.
    pub async fn prune(&self, now: DateTime<Utc>) -> io::Result<usize> {
        let expired: Vec<String> = self
            .lock()
            .values()
            .filter(|r| r.finished && r.forget_after < now)
            .map(|r| r.id().to_string())
            .collect();
        for id in &expired {
            self.remove(id).await?;
        }
        Ok(expired.len())
    }

    /// Forgets the operation durably, finished or not (the coordinator no longer has it).
    /// Returns whether it was known.
    pub async fn forget(&self, operation_id: &str) -> io::Result<bool> {
        self.remove(operation_id).await
    }

    /// The operations whose schedule still runs.
    pub fn unfinished(&self) -> Vec<OperationRecord> {
        self.lock()
            .values()
            .filter(|r| !r.finished)
            .cloned()
            .collect()
    }

    /// What to announce on a new link: every operation, and whether it is finished.
    pub fn progress(&self) -> Vec<Progress> {
        self.lock()
            .values()
            .map(|r| Progress {
                operation_id: r.id().to_string(),
                finished: r.finished,
            })
            .collect()
    }

    /// Credits held by unfinished operations (`hello.in_use_credits`).
    pub fn in_use_credits(&self) -> u64 {
        self.lock()
            .values()
            .filter(|r| !r.finished)
            .fold(0u64, |sum, r| sum.saturating_add(r.order.credits))
    }

    async fn store(&self, record: OperationRecord) -> io::Result<()> {
        let (records, copy) = (self.records.clone(), record.clone());
        tokio::task::spawn_blocking(move || records.put(copy.id(), &copy))
            .await
            .map_err(io::Error::other)??;
        self.lock().insert(record.id().to_string(), record);
        self.outgoing.notify_one();
        Ok(())
    }

    async fn remove(&self, operation_id: &str) -> io::Result<bool> {
        let (records, key) = (self.records.clone(), operation_id.to_string());
        tokio::task::spawn_blocking(move || records.remove(&key))
            .await
            .map_err(io::Error::other)??;
        Ok(self.lock().remove(operation_id).is_some())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, OperationRecord>> {
        self.by_id.lock().expect("ledger lock poisoned")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use probe_protocol::{OperationKind, ResultFormat};
    use serde_json::json;

    fn order(id: &str, credits: u64) -> OperationOrder {
        let params = json!({
            "cron": "* * * * *", "stop_time": "01/01/2030 12:00", "times_per_minute": 1,
            "ips": ["127.0.0.1"]
        });
        OperationOrder {
            operation_id: id.into(),
            kind: OperationKind::Ping,
            params: params.as_object().unwrap().clone(),
            credits,
            result_format: ResultFormat::Json,
        }
    }

    fn now() -> DateTime<Utc> {
        "2029-12-31T12:00:00Z".parse().unwrap()
    }

    #[tokio::test]
    async fn a_re_sent_order_is_known_and_records_survive_a_restart() {
        let tmp = tempfile::tempdir().unwrap();
        let ledger = Ledger::open(tmp.path().to_path_buf(), Arc::default()).unwrap();
        let first = ledger.admit(order("op1", 30), now()).await.unwrap();
        let Admission::New(record) = first else {
            panic!("{first:?}")
        };
        let end: DateTime<Utc> = "2030-01-01T12:01:00Z".parse().unwrap();
        assert_eq!(record.forget_after, end + FINISHED_RETENTION);
        assert_eq!(
            ledger.admit(order("op1", 30), now()).await.unwrap(),
            Admission::Known
        );
        ledger.admit(order("op2", 12), now()).await.unwrap();
        assert_eq!(ledger.in_use_credits(), 42);
        ledger.finish("op1").await.unwrap();
        drop(ledger);

        let reopened = Ledger::open(tmp.path().to_path_buf(), Arc::default()).unwrap();
        assert_eq!(reopened.in_use_credits(), 12);
        let unfinished: Vec<String> = reopened
            .unfinished()
            .iter()
            .map(|r| r.id().to_string())
            .collect();
        assert_eq!(unfinished, ["op2"]);
        assert_eq!(
            reopened.progress(),
            vec![
                Progress {
                    operation_id: "op1".into(),
                    finished: true
                },
                Progress {
                    operation_id: "op2".into(),
                    finished: false
                },
            ]
        );
        assert_eq!(
            reopened.admit(order("op1", 30), now()).await.unwrap(),
            Admission::Known
        );
    }

    #[tokio::test]
    async fn only_finished_records_past_retention_are_pruned() {
        let tmp = tempfile::tempdir().unwrap();
        let ledger = Ledger::open(tmp.path().to_path_buf(), Arc::default()).unwrap();
        ledger.admit(order("done", 1), now()).await.unwrap();
        ledger.admit(order("running", 1), now()).await.unwrap();
        ledger.finish("done").await.unwrap();
        let end: DateTime<Utc> = "2030-01-01T12:01:00Z".parse().unwrap();
        assert_eq!(ledger.prune(end).await.unwrap(), 0);
        assert_eq!(ledger.prune(end + FINISHED_RETENTION).await.unwrap(), 0);
        let later = end + FINISHED_RETENTION + TimeDelta::seconds(1);
        assert_eq!(ledger.prune(later).await.unwrap(), 1);
        let reopened = Ledger::open(tmp.path().to_path_buf(), Arc::default()).unwrap();
        assert_eq!(reopened.progress().len(), 1);
    }

    #[tokio::test]
    async fn a_forgotten_operation_is_gone_for_good_even_unfinished() {
        let tmp = tempfile::tempdir().unwrap();
        let ledger = Ledger::open(tmp.path().to_path_buf(), Arc::default()).unwrap();
        ledger.admit(order("gone", 30), now()).await.unwrap();
        ledger.admit(order("kept", 12), now()).await.unwrap();
        assert!(ledger.forget("gone").await.unwrap());
        assert!(!ledger.forget("gone").await.unwrap(), "forgetting twice");
        assert!(!ledger.forget("never-seen").await.unwrap());
        assert_eq!(ledger.in_use_credits(), 12);
        drop(ledger);

        let reopened = Ledger::open(tmp.path().to_path_buf(), Arc::default()).unwrap();
        let ids: Vec<String> = reopened
            .progress()
            .into_iter()
            .map(|p| p.operation_id)
            .collect();
        assert_eq!(ids, ["kept"]);
    }

    #[test]
    fn an_order_whose_params_do_not_parse_is_forgotten_after_retention_from_receipt() {
        let mut bad = order("bad", 1);
        bad.params.remove("cron");
        let record = OperationRecord::new(bad, now());
        assert_eq!(record.forget_after, now() + FINISHED_RETENTION);
    }
}
