pub mod link_audit;
mod location;
pub mod revocation;

pub use location::Location;
