//! Running each operation at its run times until its stop time.
//!
//! Every operation has its own task. Its runs are the cron's fired minutes, each holding
//! `times_per_minute` runs spread over the minute (see `Schedule`), on the NTP-corrected
//! clock. The minute in progress counts too: an operation taken on at 12:00:30 that fires
//! every minute 60 times a minute starts at 12:00:31, not 12:01:00. Runs in the past are
//! skipped, never caught up: after a restart the probe resumes at the next run time. Each run
//! is a separate execution task, so a run that outlasts the interval does not delay the next.
//! When the schedule is over and its executions are done, the operation is marked finished.
//!
//! Each run yields one result, measured (`measured_at`, on the same corrected clock) within
//! the operation's window; a run whose credits only come after the schedule's last minute is
//! skipped. So the probe never produces more results, or other instants, than the coordinator
//! accepts (`Params::max_results`, `ResultWindow`); what it refuses anyway is dropped.
//!
//! Stopping (shutdown) starts no new run, abandons runs still waiting for credits (nothing was
//! measured yet), and lets running executions finish and store their results: a measurement
//! already under way is worth its seconds, and the outbox delivers it on the next link. The
//! operation stays unfinished and resumes at the next start.
//!
//! Withdrawing (the coordinator no longer has the operation) is harsher: nothing can store the
//! operation's results, so its runs stop at once, tools killed mid-measurement, and the
//! operation is forgotten with every result it left in the outbox.

use crate::clock::Clock;
use crate::ledger::{Admission, Ledger, OperationRecord};
use crate::outbox::Outbox;
use crate::runner::{Execution, Runner};
use chrono::{DateTime, TimeDelta, Utc};
use probe_protocol::params::{self, Params, Schedule};
use probe_protocol::{ContentFormat, OperationOrder, ResultFormat, ResultReport};
use serde_json::Value;
use std::collections::HashMap;
use std::io;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::task::{JoinHandle, JoinSet};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// How late a run may start and still count (a restart or a busy runtime).
const LATE_TOLERANCE: TimeDelta = TimeDelta::seconds(1);
/// Longest single sleep: waking up regularly follows clock corrections.
const MAX_SLEEP: Duration = Duration::from_secs(30);

/// Starts and runs operations.
#[derive(Debug, Clone)]
pub struct Scheduler {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    runner: Runner,
    outbox: Arc<Outbox>,
    ledger: Arc<Ledger>,
    clock: Clock,
    /// Stops scheduling: no run starts after it; running executions finish.
    stop: CancellationToken,
    tasks: TaskTracker,
    /// The operations whose task is running, by identifier.
    running: Mutex<HashMap<String, Running>>,
}

impl Inner {
    fn running(&self) -> MutexGuard<'_, HashMap<String, Running>> {
        self.running.lock().expect("scheduler lock poisoned")
    }
}

/// One operation's task, and how to withdraw it.
#[derive(Debug)]
struct Running {
    withdrawn: CancellationToken,
    task: JoinHandle<()>,
}

/// What [`Scheduler::withdraw`] found of an operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Withdrawal {
    /// It was in the ledger (and is no longer).
    pub known: bool,
    /// The unique codes of its results discarded from the outbox.
    pub discarded: Vec<String>,
}

impl Scheduler {
    /// A scheduler that stops scheduling when `stop` is cancelled.
    pub fn new(
        runner: Runner,
        outbox: Arc<Outbox>,
        ledger: Arc<Ledger>,
        clock: Clock,
        stop: CancellationToken,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                runner,
                outbox,
                ledger,
                clock,
                stop,
                tasks: TaskTracker::new(),
                running: Mutex::default(),
            }),
        }
    }

    /// Takes on `order`: records it durably, so that `accepted` may be sent, and starts its
    /// schedule. An operation already known (the coordinator re-sends those it has not seen
    /// accepted) is not started again.
    pub async fn take(&self, order: OperationOrder) -> io::Result<()> {
        let id = order.operation_id.clone();
        match self
            .inner
            .ledger
            .admit(order, self.inner.clock.now())
            .await?
        {
            Admission::New(record) => self.start(record),
            Admission::Known => tracing::debug!(operation = %id, "operation already taken on"),
        }
        Ok(())
    }

    /// Withdraws an operation the coordinator no longer has: stops its runs (killing running
    /// tools) and waits for its task to end, so that no result of it can still be stored,
    /// then forgets it and discards its results. Withdrawing again finds nothing; results left
    /// by an interrupted withdrawal are discarded by the next one.
    pub async fn withdraw(&self, operation_id: &str) -> io::Result<Withdrawal> {
        let running = self.inner.running().remove(operation_id);
        if let Some(Running { withdrawn, task }) = running {
            withdrawn.cancel();
            if let Err(error) = task.await {
                tracing::error!(operation = %operation_id, %error, "the operation's task failed");
            }
        }
        let known = self.inner.ledger.forget(operation_id).await?;
        let discarded = self.inner.outbox.discard_operation(operation_id).await?;
        Ok(Withdrawal { known, discarded })
    }

    /// Restarts the operations that were running when the probe stopped.
    pub fn resume(&self) {
        for record in self.inner.ledger.unfinished() {
            self.start(record);
        }
    }

    /// Waits, at most `grace`, until every operation task has ended (after `stop`: once their
    /// running executions stored their results). Returns whether they all did; executions
    /// still running after `grace` are abandoned and their measurements lost.
    pub async fn wait_stopped(&self, grace: Duration) -> bool {
        self.inner.tasks.close();
        let stopped = tokio::time::timeout(grace, self.inner.tasks.wait())
            .await
            .is_ok();
        if !stopped {
            tracing::warn!(
                grace_s = grace.as_secs(),
                "executions still running after the shutdown grace are abandoned"
            );
        }
        stopped
    }

    fn start(&self, record: OperationRecord) {
        tracing::info!(operation = %record.id(), kind = ?record.order.kind, "operation started");
        let id = record.id().to_string();
        let withdrawn = CancellationToken::new();
        // Held while spawning, so that a task ending at once cannot unregister before this.
        let mut running = self.inner.running();
        let task = self.inner.tasks.spawn(operation_task(
            self.inner.clone(),
            record,
            withdrawn.clone(),
        ));
        running.insert(id, Running { withdrawn, task });
    }
}

async fn operation_task(inner: Arc<Inner>, record: OperationRecord, withdrawn: CancellationToken) {
    let id = record.id().to_string();
    run_operation(&inner, record, withdrawn).await;
    inner.running().remove(&id);
}

async fn run_operation(inner: &Arc<Inner>, record: OperationRecord, withdrawn: CancellationToken) {
    let order = Arc::new(record.order);
    match params::parse(order.kind, &order.params, record.received_at) {
        Ok(params) => {
            if !run_schedule(inner, &order, Arc::new(params), &withdrawn).await {
                return;
            }
        }
        Err(error) if error.field() == "stop_time" => {
            tracing::info!(operation = %order.operation_id, %error, "operation already over");
        }
        Err(error) => {
            let execution = Execution {
                format: content_format(order.result_format),
                content: Value::Null,
                error: Some(format!("the probe cannot run these parameters: {error}")),
            };
            report(inner, &order, execution, inner.clock.now()).await;
        }
    }
    match inner.ledger.finish(&order.operation_id).await {
        Ok(()) => tracing::info!(operation = %order.operation_id, "operation finished"),
        Err(error) => {
            tracing::error!(operation = %order.operation_id, %error, "cannot record the end of an operation")
        }
    }
}

/// Runs every run time, then waits for the executions. `false` if the scheduler stopped
/// meanwhile (running executions are still waited for, but a run skipped or dropped leaves
/// the schedule to resume at the next start) or the operation was withdrawn.
async fn run_schedule(
    inner: &Arc<Inner>,
    order: &Arc<OperationOrder>,
    params: Arc<Params>,
    withdrawn: &CancellationToken,
) -> bool {
    let mut executions = JoinSet::new();
    for at in run_times(params.schedule(), inner.clock.now()) {
        tokio::select! {
            biased;
            _ = inner.stop.cancelled() => break,
            _ = withdrawn.cancelled() => break,
            _ = sleep_until(&inner.clock, at) => {}
        }
        let execution = execute(
            inner.clone(),
            order.clone(),
            params.clone(),
            withdrawn.clone(),
        );
        executions.spawn(execution);
        while executions.try_join_next().is_some() {}
    }
    while executions.join_next().await.is_some() {}
    !inner.stop.is_cancelled() && !withdrawn.is_cancelled()
}

/// The run times of `schedule` from `now` on: those of the minute in progress that are not
/// past (within [`LATE_TOLERANCE`]), then those of every later fired minute.
pub fn run_times(
    schedule: &Schedule,
    now: DateTime<Utc>,
) -> impl Iterator<Item = DateTime<Utc>> + '_ {
    schedule
        .fire_times(now - TimeDelta::minutes(1))
        .flat_map(|minute| schedule.run_times_in_minute(minute))
        .filter(move |at| *at >= now - LATE_TOLERANCE)
}

async fn sleep_until(clock: &Clock, at: DateTime<Utc>) {
    while let Ok(wait) = (at - clock.now()).to_std() {
        if wait.is_zero() {
            return;
        }
        tokio::time::sleep(wait.min(MAX_SLEEP)).await;
    }
}

/// One run: its credits, the tools, its result in the outbox. A run still waiting for its
/// credits when the scheduler stops is dropped: nothing was measured. A withdrawal drops the
/// run wherever it is short of storing its result (dropping a tool kills it).
async fn execute(
    inner: Arc<Inner>,
    order: Arc<OperationOrder>,
    params: Arc<Params>,
    withdrawn: CancellationToken,
) {
    let credits = tokio::select! {
        biased;
        _ = inner.stop.cancelled() => return,
        _ = withdrawn.cancelled() => return,
        credits = inner.runner.reserve(&params) => credits,
    };
    // On the schedule's clock, the one the coordinator's window is checked against.
    let measured_at = inner.clock.now();
    if measured_at > params.schedule().end() {
        tracing::warn!(operation = %order.operation_id, "run skipped: its credits came after the schedule's last minute, and the coordinator would refuse its result");
        return;
    }
    let execution = tokio::select! {
        biased;
        _ = withdrawn.cancelled() => return,
        execution = inner.runner.measure(&credits, &params, order.result_format) => execution,
    };
    report(&inner, &order, execution, measured_at).await;
}

/// Stores one execution's result in the outbox, whence the link delivers it.
async fn report(
    inner: &Inner,
    order: &OperationOrder,
    execution: Execution,
    measured_at: DateTime<Utc>,
) {
    let report = ResultReport {
        operation_id: order.operation_id.clone(),
        unique_code: unique_code(measured_at),
        format: execution.format,
        content: execution.content.into(),
        measured_at,
        error: execution.error,
    };
    let code = report.unique_code.clone();
    match inner.outbox.put(report).await {
        Ok(()) => {
            tracing::debug!(operation = %order.operation_id, unique_code = %code, "result stored")
        }
        Err(error) => {
            tracing::error!(operation = %order.operation_id, %error, "result lost: cannot write the outbox")
        }
    }
}

/// A fresh code for one execution's result: its time (readable, sortable) and 128 random bits
/// (unique across probes and restarts without any coordination).
pub fn unique_code(measured_at: DateTime<Utc>) -> String {
    format!(
        "{}-{:032x}",
        measured_at.format("%Y%m%dT%H%M%S%.6fZ"),
        rand::random::<u128>()
    )
}

fn content_format(format: ResultFormat) -> ContentFormat {
    match format {
        ResultFormat::Json => ContentFormat::Json,
        ResultFormat::Dump => ContentFormat::Dump,
        ResultFormat::Text => ContentFormat::Text,
    }
}

#[cfg(test)]
mod tests;
