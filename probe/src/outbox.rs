//! Results the coordinator has not acknowledged yet.
//!
//! A result is written (fsync'd) here before it is first sent and deleted only when its
//! `result_ack` arrives, so a result survives a dropped link, a coordinator restart and a crash
//! of the probe itself, and is re-sent until acknowledged. Re-sending is safe: the coordinator
//! stores a `unique_code` once. Results are sent oldest first. The one other way out is an
//! operation the coordinator no longer has (`unknown_operation`): nothing can store its
//! results, so they are discarded.

use crate::durable::RecordDir;
use chrono::{DateTime, Utc};
use probe_protocol::ResultReport;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::io;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use tokio::sync::Notify;

/// The durable queue of unacknowledged results.
#[derive(Debug)]
pub struct Outbox {
    records: RecordDir,
    pending: Mutex<Pending>,
    outgoing: Arc<Notify>,
}

#[derive(Debug, Default)]
struct Pending {
    by_age: BTreeMap<(DateTime<Utc>, String), Arc<ResultReport>>,
    age_of: HashMap<String, DateTime<Utc>>,
}

impl Pending {
    fn insert(&mut self, report: Arc<ResultReport>) {
        let code = report.unique_code.clone();
        if let Some(old) = self.age_of.insert(code.clone(), report.measured_at) {
            self.by_age.remove(&(old, code.clone()));
        }
        self.by_age.insert((report.measured_at, code), report);
    }

    fn remove(&mut self, code: &str) -> bool {
        match self.age_of.remove(code) {
            Some(age) => self.by_age.remove(&(age, code.to_string())).is_some(),
            None => false,
        }
    }
}

impl Outbox {
    /// Opens the outbox in `dir` with the results a previous run left unacknowledged.
    /// `outgoing` is notified whenever there is something new to send.
    pub fn open(dir: PathBuf, outgoing: Arc<Notify>) -> io::Result<Self> {
        let records = RecordDir::open(dir)?;
        let mut pending = Pending::default();
        for report in records.load::<ResultReport>()? {
            pending.insert(Arc::new(report));
        }
        if !pending.age_of.is_empty() {
            tracing::info!(
                results = pending.age_of.len(),
                "unacknowledged results from a previous run"
            );
        }
        Ok(Self {
            records,
            pending: Mutex::new(pending),
            outgoing,
        })
    }

    /// Stores `report` durably, then queues it for sending.
    pub async fn put(&self, report: ResultReport) -> io::Result<()> {
        let report = Arc::new(report);
        let (records, copy) = (self.records.clone(), report.clone());
        tokio::task::spawn_blocking(move || records.put(&copy.unique_code, copy.as_ref()))
            .await
            .map_err(io::Error::other)??;
        self.lock().insert(report);
        self.outgoing.notify_one();
        Ok(())
    }

    /// Forgets the result `unique_code` for good (its `result_ack` arrived). Returns whether
    /// it was pending.
    pub async fn acknowledge(&self, unique_code: &str) -> io::Result<bool> {
        let removed = self.remove(vec![unique_code.to_string()]).await?;
        Ok(removed == 1)
    }

    /// Forgets every pending result of `operation_id` for good (the coordinator no longer has
    /// the operation). Returns their unique codes.
    pub async fn discard_operation(&self, operation_id: &str) -> io::Result<Vec<String>> {
        let codes: Vec<String> = self
            .lock()
            .by_age
            .values()
            .filter(|report| report.operation_id == operation_id)
            .map(|report| report.unique_code.clone())
            .collect();
        self.remove(codes.clone()).await?;
        Ok(codes)
    }

    /// Up to `limit` pending results, oldest first, leaving out those in `skip`.
    pub fn next_batch(&self, skip: &HashSet<String>, limit: usize) -> Vec<Arc<ResultReport>> {
        self.lock()
            .by_age
            .values()
            .filter(|report| !skip.contains(&report.unique_code))
            .take(limit)
            .cloned()
            .collect()
    }

    /// How many results wait for their acknowledgement.
    pub fn len(&self) -> usize {
        self.lock().age_of.len()
    }

    /// Whether every result was acknowledged.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Deletes the results `codes` from disk, then from the queue; returns how many were
    /// pending.
    async fn remove(&self, codes: Vec<String>) -> io::Result<usize> {
        let (records, keys) = (self.records.clone(), codes.clone());
        tokio::task::spawn_blocking(move || keys.iter().try_for_each(|key| records.remove(key)))
            .await
            .map_err(io::Error::other)??;
        let mut pending = self.lock();
        Ok(codes.iter().filter(|code| pending.remove(code)).count())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Pending> {
        self.pending.lock().expect("outbox lock poisoned")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeDelta;
    use probe_protocol::ContentFormat;
    use serde_json::json;

    fn report(code: &str, seconds: i64) -> ResultReport {
        report_of("op", code, seconds)
    }

    fn report_of(operation: &str, code: &str, seconds: i64) -> ResultReport {
        ResultReport {
            operation_id: operation.into(),
            unique_code: code.into(),
            format: ContentFormat::Json,
            content: json!([{"type": "ping"}]).into(),
            measured_at: DateTime::UNIX_EPOCH + TimeDelta::seconds(seconds),
            error: None,
        }
    }

    fn codes(batch: &[Arc<ResultReport>]) -> Vec<&str> {
        batch.iter().map(|r| r.unique_code.as_str()).collect()
    }

    #[tokio::test]
    async fn results_survive_a_restart_until_acknowledged() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("outbox");
        let outbox = Outbox::open(dir.clone(), Arc::default()).unwrap();
        outbox.put(report("late", 20)).await.unwrap();
        outbox.put(report("early", 10)).await.unwrap();
        outbox.put(report("middle", 15)).await.unwrap();
        assert!(outbox.acknowledge("middle").await.unwrap());
        assert!(!outbox.acknowledge("middle").await.unwrap());
        drop(outbox);

        let reopened = Outbox::open(dir, Arc::default()).unwrap();
        assert_eq!(reopened.len(), 2);
        let batch = reopened.next_batch(&HashSet::new(), 10);
        assert_eq!(codes(&batch), ["early", "late"]);
        assert_eq!(*batch[0], report("early", 10));
    }

    #[tokio::test]
    async fn batches_skip_what_is_in_flight_and_respect_the_limit() {
        let tmp = tempfile::tempdir().unwrap();
        let outbox = Outbox::open(tmp.path().to_path_buf(), Arc::default()).unwrap();
        for (i, code) in ["a", "b", "c", "d"].iter().enumerate() {
            outbox.put(report(code, i as i64)).await.unwrap();
        }
        let in_flight: HashSet<String> = ["a".to_string(), "c".to_string()].into();
        assert_eq!(codes(&outbox.next_batch(&in_flight, 1)), ["b"]);
        assert_eq!(codes(&outbox.next_batch(&in_flight, 5)), ["b", "d"]);
    }

    #[tokio::test]
    async fn discarding_an_operation_drops_its_results_and_only_them_for_good() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("outbox");
        let outbox = Outbox::open(dir.clone(), Arc::default()).unwrap();
        outbox.put(report_of("gone", "g1", 1)).await.unwrap();
        outbox.put(report_of("kept", "k1", 2)).await.unwrap();
        outbox.put(report_of("gone", "g2", 3)).await.unwrap();
        let mut discarded = outbox.discard_operation("gone").await.unwrap();
        discarded.sort();
        assert_eq!(discarded, ["g1", "g2"]);
        assert!(outbox.discard_operation("gone").await.unwrap().is_empty());
        assert!(outbox
            .discard_operation("never-seen")
            .await
            .unwrap()
            .is_empty());
        assert_eq!(codes(&outbox.next_batch(&HashSet::new(), 10)), ["k1"]);
        drop(outbox);

        let reopened = Outbox::open(dir, Arc::default()).unwrap();
        assert_eq!(codes(&reopened.next_batch(&HashSet::new(), 10)), ["k1"]);
    }

    #[tokio::test]
    async fn putting_notifies_the_sender() {
        let tmp = tempfile::tempdir().unwrap();
        let outgoing = Arc::new(Notify::new());
        let outbox = Outbox::open(tmp.path().to_path_buf(), outgoing.clone()).unwrap();
        outbox.put(report("a", 1)).await.unwrap();
        tokio::time::timeout(std::time::Duration::from_secs(1), outgoing.notified())
            .await
            .expect("notified");
    }
}
