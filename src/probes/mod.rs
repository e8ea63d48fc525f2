mod location;

pub use location::Location;
