//! MongoDB store.
