//! Embedded store (redb).
