//! Black-box tests of the whole server: real HTTP, real WebSocket clients, real store.

mod helpers;

mod auth;
mod authorization;
mod compatibility;
mod concurrency;
mod limits;
mod monitoring;
mod openapi;
mod probe_link;
mod story;
mod validation;
