//! The HTTP calls the MongoDB crash and recovery tests make, on the test kit's client.
#![allow(dead_code)] // Each test crate uses the part it needs.

use serde_json::Value;
use testkit::params::busy_ping_params;
use testkit::process::Server;

/// Registers `email`, has the root superuser grant it `credits`; its access token.
pub async fn funded_user(server: &Server, email: &str, credits: u64) -> String {
    server.client().funded_by_root(email, credits).await.token
}

/// A probe of the user with `token`: its identifier and its token.
pub async fn registered_probe(server: &Server, token: &str) -> (String, String) {
    server.client().register_probe(token).await
}

/// A ping of `probe` (connected), 60 a minute for 45 minutes; its identifier.
pub async fn ping_operation(server: &Server, token: &str, probe: &str) -> String {
    server
        .client()
        .ping(token, &[probe], busy_ping_params(45))
        .await
}

/// GET `path` as the user with `token`.
pub async fn get(server: &Server, path: &str, token: &str) -> Value {
    server.client().get_ok(path, Some(token)).await
}
