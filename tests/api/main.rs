//! Black-box tests of the whole server: real HTTP, real WebSocket clients, real store.

mod auth;
mod authorization;
mod compatibility;
mod concurrency;
mod flow_control;
mod hashing_memory;
mod idle_sockets;
mod limits;
mod load;
mod load_mongo;
mod monitoring;
mod openapi;
mod probe_link;
mod probe_removal;
mod proxy;
mod quota;
mod select;
mod story;
mod stream;
mod validation;
