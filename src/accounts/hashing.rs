//! A bound on password hashing, the most expensive thing an anonymous client can ask for.
//!
//! Each Argon2id hash or verification takes 19 MiB and tens of milliseconds of one core. Run on
//! tokio's blocking pool without a bound, a burst of logins or registrations would start up to
//! 512 at once (about 10 GiB) and starve every other request of CPU. At most `concurrency`
//! hashes run; up to [`WAITING_PER_SLOT`] times as many callers wait their turn (waiting costs
//! no memory); past that, the caller is told at once to come back later.

use std::sync::Arc;
use tokio::sync::Semaphore;

/// Callers that may wait, per hash that may run.
pub const WAITING_PER_SLOT: usize = 4;

/// Seconds a refused caller is asked to wait (`Retry-After`): a few hashes' time.
pub const RETRY_AFTER_S: u64 = 1;

/// Every hash running and waiting already; retry after [`RETRY_AFTER_S`].
#[derive(Debug, thiserror::Error)]
#[error("too many password checks in progress: retry in {RETRY_AFTER_S} s")]
pub struct HashingBusy;

/// The bound, shared by every path that hashes or verifies a password in one server.
#[derive(Clone)]
pub struct PasswordHashing {
    /// Hashes that may run at once.
    running: Arc<Semaphore>,
    /// Callers admitted (running or waiting).
    admitted: Arc<Semaphore>,
}

impl PasswordHashing {
    /// At most `concurrency` (at least one) hashes at once.
    pub fn new(concurrency: usize) -> Self {
        let concurrency = concurrency.max(1);
        Self {
            running: Arc::new(Semaphore::new(concurrency)),
            admitted: Arc::new(Semaphore::new(concurrency * (1 + WAITING_PER_SLOT))),
        }
    }

    /// Runs `work` (a hash or a verification) on the blocking pool once a slot is free, or
    /// refuses at once when too many callers are ahead. The permits move into the blocking task:
    /// a caller that gives up (its client left) cannot free a slot its hash still occupies.
    pub async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, HashingBusy> {
        let admitted = Arc::clone(&self.admitted)
            .try_acquire_owned()
            .map_err(|_| HashingBusy)?;
        let running = Arc::clone(&self.running)
            .acquire_owned()
            .await
            .map_err(|_| HashingBusy)?;
        tokio::task::spawn_blocking(move || {
            let _slot = (admitted, running);
            work()
        })
        .await
        // A hash that panicked is a bug; the caller sees the same refusal as a full queue
        // rather than a hung request.
        .map_err(|_| HashingBusy)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;

    #[tokio::test]
    async fn runs_at_most_concurrency_and_refuses_past_the_waiting_room() {
        let hashing = PasswordHashing::new(1);
        let (release, blocked) = mpsc::channel::<()>();
        let blocked = Arc::new(std::sync::Mutex::new(blocked));
        let first = tokio::spawn({
            let (hashing, blocked) = (hashing.clone(), blocked.clone());
            async move { hashing.run(move || blocked.lock().unwrap().recv()).await }
        });
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        let waiting: Vec<_> = (0..WAITING_PER_SLOT)
            .map(|_| {
                tokio::spawn({
                    let hashing = hashing.clone();
                    async move { hashing.run(|| ()).await }
                })
            })
            .collect();
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        assert!(
            hashing.run(|| ()).await.is_err(),
            "one past the waiting room"
        );
        release.send(()).unwrap();
        assert!(first.await.unwrap().is_ok());
        for waiter in waiting {
            assert!(waiter.await.unwrap().is_ok(), "waiters run in turn");
        }
        assert!(hashing.run(|| ()).await.is_ok(), "free again");
    }
}
