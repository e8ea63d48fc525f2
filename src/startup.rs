//! Building a server from [`Settings`] and running it until shutdown.

use crate::accounts::{PasswordHashing, TokenKeys};
use crate::clock::Clock;
use crate::config::{Settings, StorageSettings};
use crate::hub::{Hub, Kick, LocalHub};
use crate::probes::{ProbeChangeStore, ProbeGeneration, ProbeListCache};
use crate::state::AppState;
use crate::store::embedded::EmbeddedStore;
use crate::store::mongo::MongoStore;
use crate::store::{Store, StoreError};
use crate::telemetry::{MeteredStore, Telemetry};
use rand::RngCore;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_util::task::TaskTracker;
use warp::Filter;

/// How long shutdown waits for probe links to finish their in-flight writes.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    /// The store could not be opened.
    #[error("cannot open the store: {0}")]
    Store(#[from] StoreError),
    /// The listen address could not be bound.
    #[error("cannot listen on {0}: {1}")]
    Bind(SocketAddr, std::io::Error),
}

/// A server bound to its port, ready to run.
pub struct Application {
    listener: TcpListener,
    state: AppState,
}

/// Opens the store the settings name.
pub async fn open_store(settings: &Settings) -> Result<Arc<dyn Store>, StoreError> {
    Ok(match &settings.storage {
        StorageSettings::Mongo { uri, database } => {
            Arc::new(MongoStore::connect(uri, database).await?)
        }
        StorageSettings::Embedded { dir } => Arc::new(EmbeddedStore::open(dir)?),
    })
}

fn token_keys(settings: &Settings) -> TokenKeys {
    let secret = match &settings.jwt_secret {
        Some(secret) => secret.as_bytes().to_vec(),
        None => {
            tracing::warn!(
                "PLADMED_JWT_SECRET is not set: using a random secret; tokens will not survive a restart"
            );
            let mut secret = vec![0u8; 32];
            rand::thread_rng().fill_bytes(&mut secret);
            secret
        }
    };
    TokenKeys::new(&secret, settings.token_ttl)
}

impl Application {
    /// Opens the store, binds the listen address and prepares the routes.
    pub async fn build(settings: Settings) -> Result<Self, StartupError> {
        let telemetry = Arc::new(Telemetry::default());
        let metered = MeteredStore::new(open_store(&settings).await?, telemetry.clone());
        let probe_changes = ProbeGeneration::default();
        let store: Arc<dyn Store> = Arc::new(ProbeChangeStore::new(
            Arc::new(metered),
            probe_changes.clone(),
        ));
        store.reset_links(&settings.instance).await?;
        let listener = TcpListener::bind(settings.bind)
            .await
            .map_err(|e| StartupError::Bind(settings.bind, e))?;
        let state = AppState {
            store,
            hub: Arc::new(LocalHub::new()) as Arc<dyn Hub>,
            tokens: token_keys(&settings),
            clock: Clock::start(settings.clock.clone()),
            hashing: PasswordHashing::new(settings.limits.hash_concurrency),
            probe_list: Arc::new(ProbeListCache::new(probe_changes)),
            settings: Arc::new(settings),
            links: TaskTracker::new(),
            telemetry,
        };
        Ok(Self { listener, state })
    }

    /// The address the server listens on (the real port when bound to port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound listener has an address")
    }

    /// The store the server uses (e.g. to create a superuser before serving).
    pub fn store(&self) -> Arc<dyn Store> {
        self.state.store.clone()
    }

    /// Serves until `shutdown` resolves; then stops accepting, closes probe links with 1001,
    /// waits for their in-flight writes and returns.
    pub async fn run_until(self, shutdown: impl Future<Output = ()> + Send + 'static) {
        let Application { listener, state } = self;
        let routes = crate::ws::route(state.clone()).or(crate::api::routes(state.clone()));
        tracing::info!(addr = %listener.local_addr().expect("bound"), mode = ?state.settings.mode, instance = %state.settings.instance, "serving");
        let hub = state.hub.clone();
        let links = state.links.clone();
        let (stop_accepting, accepting_stopped) = tokio::sync::oneshot::channel::<()>();
        let settings = state.settings.clone();
        let server = tokio::spawn(async move {
            crate::server::serve(listener, routes, &settings, async move {
                let _ = accepting_stopped.await;
            })
            .await;
        });
        shutdown.await;
        tracing::info!(
            links = hub.connected(),
            "shutting down: no new connections, closing probe links"
        );
        let _ = stop_accepting.send(());
        hub.kick_all(Kick::SHUTDOWN);
        links.close();
        if tokio::time::timeout(DRAIN_TIMEOUT, links.wait())
            .await
            .is_err()
        {
            tracing::warn!("probe links did not finish within the drain timeout");
        }
        let _ = tokio::time::timeout(DRAIN_TIMEOUT, server).await;
        tracing::info!("stopped");
    }
}
