mod location;
pub mod revocation;

pub use location::Location;
