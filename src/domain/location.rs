//! Where a probe is.

use serde::{Deserialize, Serialize};

/// A WGS84 position: latitude in [-90, 90], longitude in [-180, 180], both finite.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Location {
    latitude: f64,
    longitude: f64,
}

impl Location {
    /// A location, or an error naming the coordinate that is out of range.
    pub fn new(latitude: f64, longitude: f64) -> Result<Self, String> {
        if !(latitude.is_finite() && (-90.0..=90.0).contains(&latitude)) {
            return Err("location.latitude must be a number between -90 and 90".into());
        }
        if !(longitude.is_finite() && (-180.0..=180.0).contains(&longitude)) {
            return Err("location.longitude must be a number between -180 and 180".into());
        }
        Ok(Self {
            latitude,
            longitude,
        })
    }

    /// Degrees north.
    pub fn latitude(self) -> f64 {
        self.latitude
    }

    /// Degrees east.
    pub fn longitude(self) -> f64 {
        self.longitude
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn range_checks_each_coordinate() {
        assert!(Location::new(-34.6, -58.5).is_ok());
        assert!(Location::new(90.0, 180.0).is_ok());
        assert!(Location::new(90.1, 0.0).unwrap_err().contains("latitude"));
        assert!(Location::new(0.0, -180.5)
            .unwrap_err()
            .contains("longitude"));
        assert!(Location::new(f64::NAN, 0.0).is_err());
    }
}
