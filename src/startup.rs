//! Building a server from [`Settings`] and running it until shutdown.

use crate::accounts::{PasswordHashing, TokenKeys};
use crate::admin::AdminSocket;
use crate::clock::Clock;
use crate::config::{Settings, StorageSettings};
use crate::hub::{kick, Hub, LocalHub, RedisHub};
use crate::probes::link_audit;
use crate::probes::{ProbeGeneration, ProbeListCache};
use crate::state::AppState;
use crate::store::embedded::EmbeddedStore;
use crate::store::mongo::MongoStore;
use crate::store::{ObservedStore, Store, StoreError};
use crate::telemetry::{StoreFailures, Telemetry};
use rand::RngCore;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
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
    /// `PLADMED_REDIS_URL` was refused by the Redis client.
    #[error("cannot use PLADMED_REDIS_URL: {0}")]
    Broker(#[from] redis::RedisError),
    /// The superuser of `PLADMED_SUPERUSER_EMAIL` could not be created.
    #[error("cannot create the superuser of PLADMED_SUPERUSER_EMAIL: {0}")]
    Superuser(#[from] crate::accounts::RegisterError),
}

/// A server bound to its port, ready to run.
pub struct Application {
    listener: TcpListener,
    state: AppState,
    /// Only with the embedded store, whose file this process locks.
    admin: Option<AdminSocket>,
}

/// Opens the store the settings name.
pub async fn open_store(settings: &Settings) -> Result<Arc<dyn Store>, StoreError> {
    Ok(match &settings.storage {
        StorageSettings::Mongo { uri, database } => {
            Arc::new(MongoStore::connect_as(uri, database, &settings.instance).await?)
        }
        StorageSettings::Embedded { dir } => Arc::new(EmbeddedStore::open(dir)?),
    })
}

/// The admin socket of the data directory. Without it the server still serves; only the admin
/// commands cannot reach it (e.g. a data directory path too long for a socket address).
fn admin_socket(dir: &std::path::Path) -> Option<AdminSocket> {
    AdminSocket::bind(dir)
        .map_err(|error| {
            tracing::error!(dir = %dir.display(), %error, "no admin socket: admin commands cannot reach this server while it runs")
        })
        .ok()
}

/// The in-process hub, or with `PLADMED_REDIS_URL` one shared with the other instances on a
/// channel named after the database they share (so deployments sharing a Redis stay apart).
fn hub(settings: &Settings, store: Arc<dyn Store>) -> Result<Arc<dyn Hub>, StartupError> {
    Ok(match (&settings.redis_url, &settings.storage) {
        (Some(url), StorageSettings::Mongo { database, .. }) => {
            let channel = format!("pladmed:hub:{database}");
            Arc::new(RedisHub::start(url, channel, store)?)
        }
        _ => Arc::new(LocalHub::new()),
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
    let keys = TokenKeys::new(&secret, settings.token_ttl);
    match &settings.legacy_secret_key {
        Some(legacy) => {
            tracing::warn!(
                "PLADMED_LEGACY_SECRET_KEY is set: the original backend's probe and user tokens, which never expire, are accepted (docs/migration.md)"
            );
            keys.with_legacy_secret(legacy.as_bytes())
        }
        None => keys,
    }
}

impl Application {
    /// Opens the store, binds the listen address and prepares the routes.
    pub async fn build(settings: Settings) -> Result<Self, StartupError> {
        let telemetry = Arc::new(Telemetry::default());
        let probe_changes = ProbeGeneration::default();
        let store: Arc<dyn Store> = Arc::new(ObservedStore::new(
            open_store(&settings).await?,
            vec![
                Arc::new(StoreFailures::new(telemetry.clone())),
                Arc::new(probe_changes.clone()),
            ],
        ));
        store.reset_links(&settings.instance).await?;
        let hashing = PasswordHashing::new(settings.limits.hash_concurrency);
        if let Some(superuser) = &settings.superuser {
            crate::admin::ensure_superuser(store.as_ref(), &hashing, superuser).await?;
        }
        let admin = match &settings.storage {
            StorageSettings::Embedded { dir } => admin_socket(dir),
            StorageSettings::Mongo { .. } => None,
        };
        let listener = TcpListener::bind(settings.bind)
            .await
            .map_err(|e| StartupError::Bind(settings.bind, e))?;
        let settings_streams = settings.limits.streams;
        let state = AppState {
            store: store.clone(),
            hub: hub(&settings, store.clone())?,
            tokens: token_keys(&settings),
            clock: Clock::start(settings.clock.clone()),
            hashing,
            probe_list: Arc::new(ProbeListCache::new(probe_changes)),
            prices: Default::default(),
            settings: Arc::new(settings),
            links: TaskTracker::new(),
            streams: crate::api::Streams::new(settings_streams),
            telemetry,
        };
        Ok(Self {
            listener,
            state,
            admin,
        })
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
        let Application {
            listener,
            state,
            admin,
        } = self;
        let stop_admin = CancellationToken::new();
        let admin = admin.map(|socket| {
            let (store, hub, stop) = (state.store.clone(), state.hub.clone(), stop_admin.clone());
            let hashing = state.hashing.clone();
            tokio::spawn(async move { socket.serve(store, hub, hashing, stop.cancelled()).await })
        });
        let (store, hub, stop) = (state.store.clone(), state.hub.clone(), stop_admin.clone());
        let period = state.settings.heartbeat;
        tokio::spawn(async move { link_audit::run(store, hub, period, stop.cancelled()).await });
        let routes = crate::ws::route(state.clone()).or(crate::api::routes(state.clone()));
        tracing::info!(addr = %listener.local_addr().expect("bound"), mode = ?state.settings.mode, instance = %state.settings.instance, "serving");
        let hub = state.hub.clone();
        let links = state.links.clone();
        let (stop_accepting, accepting_stopped) = tokio::sync::oneshot::channel::<()>();
        let settings = state.settings.clone();
        let legacy = crate::legacy::service(state.clone());
        let server = tokio::spawn(async move {
            crate::listener::serve(listener, routes, legacy, &settings, async move {
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
        state.streams.close();
        stop_admin.cancel();
        if let Some(admin) = admin {
            let _ = admin.await;
        }
        hub.kick_all(kick::SHUTDOWN);
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
