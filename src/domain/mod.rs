//! Domain values every layer speaks: an account's e-mail address, a probe's location, credits
//! and the identifiers of stored entities.
//!
//! They depend on nothing else in the crate, so that `store` and `accounts` (and everything
//! above them) can share them without depending on each other. Each is parsed once, where it
//! enters (a request, a stored record, a setting): holding one means it is valid.

mod credits;
mod email;
mod ids;
mod location;

pub use credits::{Credits, InvalidCredits, MAX_CREDITS};
pub use email::Email;
pub use ids::{InvalidId, OperationId, ProbeId, ResultId, UserId};
pub use location::Location;
