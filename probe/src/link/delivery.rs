//! What to send on one link, and what is still awaiting its acknowledgement.
//!
//! Every new link starts from nothing announced: `accepted` for every operation (and
//! `finished` for the finished ones) goes out again, which is harmless since the coordinator
//! treats both as idempotent, and necessary since it acknowledges neither. Results go out
//! oldest first, at most a window unacknowledged at a time: [`WINDOW`], or the smaller window
//! the coordinator announces in `welcome` (it reads no more than that from a link, so more in
//! flight would only wait in TCP buffers). A large backlog after an outage thus cannot flood
//! the coordinator's queue for this probe (it would drop the link as too slow). Results discarded because the coordinator no longer has their operation leave the
//! window too: no ack will ever come for them, and a window full of them would stop delivery.

use crate::ledger::Ledger;
use crate::outbox::Outbox;
use probe_protocol::{Accepted, Finished, ProbeMessage};
use std::collections::HashSet;

/// Most results sent and not yet acknowledged on one link, unless the coordinator allows fewer.
pub const WINDOW: usize = 32;

/// Per-link bookkeeping of what was sent.
#[derive(Debug)]
pub struct Delivery {
    accepted: HashSet<String>,
    finished: HashSet<String>,
    in_flight: HashSet<String>,
    window: usize,
}

impl Default for Delivery {
    fn default() -> Self {
        Self {
            accepted: HashSet::new(),
            finished: HashSet::new(),
            in_flight: HashSet::new(),
            window: WINDOW,
        }
    }
}

impl Delivery {
    /// The coordinator announced its window (`welcome.window`): keep this link's within it.
    /// A window of 0 would stop delivery for good; one result at a time is the least.
    pub fn limit_window(&mut self, announced: u32) {
        let announced = usize::try_from(announced).unwrap_or(usize::MAX);
        self.window = WINDOW.min(announced).max(1);
    }

    /// Results this link may have unacknowledged.
    pub fn window(&self) -> usize {
        self.window
    }

    /// The messages due now, marked as sent.
    pub fn due(&mut self, ledger: &Ledger, outbox: &Outbox) -> Vec<ProbeMessage> {
        let mut messages = Vec::new();
        for progress in ledger.progress() {
            let id = progress.operation_id;
            if self.accepted.insert(id.clone()) {
                messages.push(ProbeMessage::Accepted(Accepted {
                    operation_id: id.clone(),
                }));
            }
            if progress.finished && self.finished.insert(id.clone()) {
                messages.push(ProbeMessage::Finished(Finished { operation_id: id }));
            }
        }
        let room = self.window.saturating_sub(self.in_flight.len());
        for report in outbox.next_batch(&self.in_flight, room) {
            self.in_flight.insert(report.unique_code.clone());
            messages.push(ProbeMessage::Result((*report).clone()));
        }
        messages
    }

    /// The coordinator sent this operation again: announce it again.
    pub fn forget_progress(&mut self, operation_id: &str) {
        self.accepted.remove(operation_id);
        self.finished.remove(operation_id);
    }

    /// The result `unique_code` was acknowledged.
    pub fn acknowledged(&mut self, unique_code: &str) {
        self.in_flight.remove(unique_code);
    }

    /// The operation is gone from the ledger and its results `discarded` from the outbox: none
    /// of them is awaited any more.
    pub fn withdrawn(&mut self, operation_id: &str, discarded: &[String]) {
        self.forget_progress(operation_id);
        for code in discarded {
            self.in_flight.remove(code);
        }
    }

    /// Results in flight may not have been stored (the coordinator's store was down): send
    /// every unacknowledged result again.
    pub fn resend_results(&mut self) {
        self.in_flight.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;
    use probe_protocol::{
        ContentFormat, OperationKind, OperationOrder, ResultFormat, ResultReport,
    };
    use serde_json::json;
    use std::sync::Arc;

    fn order(id: &str) -> OperationOrder {
        OperationOrder {
            operation_id: id.into(),
            kind: OperationKind::Dns,
            params: serde_json::Map::new(),
            credits: 1,
            result_format: ResultFormat::Text,
        }
    }

    fn report(code: &str) -> ResultReport {
        report_of("a", code)
    }

    fn report_of(operation: &str, code: &str) -> ResultReport {
        ResultReport {
            operation_id: operation.into(),
            unique_code: code.into(),
            format: ContentFormat::Text,
            content: json!("x").into(),
            measured_at: Utc::now(),
            error: None,
        }
    }

    fn kinds(messages: &[ProbeMessage]) -> Vec<String> {
        messages
            .iter()
            .map(|m| match m {
                ProbeMessage::Accepted(a) => format!("accepted {}", a.operation_id),
                ProbeMessage::Finished(f) => format!("finished {}", f.operation_id),
                ProbeMessage::Result(r) => format!("result {}", r.unique_code),
                ProbeMessage::Hello(_) => "hello".into(),
            })
            .collect()
    }

    #[tokio::test]
    async fn progress_is_announced_once_per_link_and_again_when_asked() {
        let tmp = tempfile::tempdir().unwrap();
        let ledger = Ledger::open(tmp.path().join("l"), Arc::default()).unwrap();
        let outbox = Outbox::open(tmp.path().join("o"), Arc::default()).unwrap();
        ledger.admit(order("a"), Utc::now()).await.unwrap();
        ledger.admit(order("b"), Utc::now()).await.unwrap();
        ledger.finish("b").await.unwrap();
        let mut delivery = Delivery::default();
        assert_eq!(
            kinds(&delivery.due(&ledger, &outbox)),
            ["accepted a", "accepted b", "finished b"]
        );
        assert!(delivery.due(&ledger, &outbox).is_empty());
        delivery.forget_progress("b");
        assert_eq!(
            kinds(&delivery.due(&ledger, &outbox)),
            ["accepted b", "finished b"]
        );
        let next_link = Delivery::default().due(&ledger, &outbox);
        assert_eq!(next_link.len(), 3);
    }

    #[tokio::test]
    async fn results_are_windowed_and_resent_on_demand() {
        let tmp = tempfile::tempdir().unwrap();
        let ledger = Ledger::open(tmp.path().join("l"), Arc::default()).unwrap();
        let outbox = Outbox::open(tmp.path().join("o"), Arc::default()).unwrap();
        for i in 0..WINDOW + 2 {
            outbox.put(report(&format!("r{i:03}"))).await.unwrap();
        }
        let mut delivery = Delivery::default();
        let first = delivery.due(&ledger, &outbox);
        assert_eq!(first.len(), WINDOW);
        assert!(delivery.due(&ledger, &outbox).is_empty());

        outbox.acknowledge("r000").await.unwrap();
        delivery.acknowledged("r000");
        assert_eq!(
            kinds(&delivery.due(&ledger, &outbox)),
            [format!("result r{WINDOW:03}")]
        );

        delivery.resend_results();
        let again = delivery.due(&ledger, &outbox);
        assert_eq!(again.len(), WINDOW);
        assert_eq!(kinds(&again[..1]), ["result r001"]);
    }

    #[tokio::test]
    async fn a_smaller_announced_window_is_kept_and_a_larger_one_is_not() {
        let tmp = tempfile::tempdir().unwrap();
        let ledger = Ledger::open(tmp.path().join("l"), Arc::default()).unwrap();
        let outbox = Outbox::open(tmp.path().join("o"), Arc::default()).unwrap();
        for i in 0..WINDOW + 2 {
            outbox.put(report(&format!("r{i:03}"))).await.unwrap();
        }
        for (announced, kept) in [(4, 4), (1_000, WINDOW), (0, 1)] {
            let mut delivery = Delivery::default();
            delivery.limit_window(announced);
            assert_eq!(delivery.window(), kept);
            assert_eq!(delivery.due(&ledger, &outbox).len(), kept);
        }
    }

    #[tokio::test]
    async fn discarded_results_free_the_window() {
        let tmp = tempfile::tempdir().unwrap();
        let ledger = Ledger::open(tmp.path().join("l"), Arc::default()).unwrap();
        let outbox = Outbox::open(tmp.path().join("o"), Arc::default()).unwrap();
        for i in 0..WINDOW {
            outbox
                .put(report_of("gone", &format!("g{i:03}")))
                .await
                .unwrap();
        }
        let mut delivery = Delivery::default();
        assert_eq!(delivery.due(&ledger, &outbox).len(), WINDOW);
        outbox.put(report_of("kept", "k")).await.unwrap();
        assert!(
            delivery.due(&ledger, &outbox).is_empty(),
            "the window is full"
        );

        let discarded = outbox.discard_operation("gone").await.unwrap();
        delivery.withdrawn("gone", &discarded);
        assert_eq!(kinds(&delivery.due(&ledger, &outbox)), ["result k"]);
    }
}
