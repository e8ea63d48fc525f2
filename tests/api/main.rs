//! Black-box tests of the whole server: real HTTP, real WebSocket clients, real store.

mod helpers;

mod auth;
mod authorization;
mod concurrency;
mod limits;
mod monitoring;
mod openapi;
mod probe_link;
mod probe_removal;
mod story;
mod validation;
