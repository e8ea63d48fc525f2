//! `select`: probes chosen by place instead of by id (POST /traceroute, /ping, /dns).
//!
//! Among the connected probes with the free capacity the operation needs, those within
//! `radius_km` of `near` (great-circle distance) are candidates; up to `limit` of them are
//! drawn at random, so that repeated operations spread over the fleet instead of always
//! landing on the same probes.

use super::CreateError;
use crate::domain::{Location, ProbeId};
use crate::store::Store;
use rand::seq::SliceRandom;
use serde_json::{Map, Value};
use utoipa::ToSchema;

/// Most probes one `select` may ask for.
pub const MAX_LIMIT: u64 = 1000;
/// Largest radius: half the Earth's circumference, i.e. anywhere.
pub const MAX_RADIUS_KM: f64 = 20_040.0;
/// Mean Earth radius.
const EARTH_RADIUS_KM: f64 = 6371.0088;

/// The centre of a `select` area.
#[derive(ToSchema)]
#[allow(dead_code)] // documentation only: the request is read by [`Selection::parse`]
pub struct Near {
    /// Degrees north, -90 to 90.
    latitude: f64,
    /// Degrees east, -180 to 180.
    longitude: f64,
}

/// Probes chosen by place: up to `limit` of the connected probes with free capacity within
/// `radius_km` of `near`, drawn at random.
#[derive(ToSchema)]
#[schema(as = ProbeSelection)]
#[allow(dead_code)] // documentation only: the request is read by [`Selection::parse`]
pub struct SelectDoc {
    /// The centre of the area.
    near: Near,
    /// Radius of the area around `near`, in km (more than 0, at most 20040).
    #[schema(exclusive_minimum = 0, maximum = 20040)]
    radius_km: f64,
    /// Most probes to choose (1 to 1000).
    #[schema(minimum = 1, maximum = 1000)]
    limit: u64,
}

/// Probes near a place: up to `limit` of those within `radius_km` of `near`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Selection {
    near: Location,
    radius_km: f64,
    limit: usize,
}

fn invalid(message: impl Into<String>) -> CreateError {
    CreateError::Invalid(message.into())
}

fn number(object: &Map<String, Value>, field: &str, name: &str) -> Result<f64, CreateError> {
    object
        .get(field)
        .and_then(Value::as_f64)
        .ok_or_else(|| invalid(format!("{name}: must be a number")))
}

impl Selection {
    /// Reads `select`; every mistake is named by its field (`select.near.latitude`, …).
    pub fn parse(raw: &Value) -> Result<Self, CreateError> {
        let object = raw.as_object().ok_or_else(|| {
            invalid("select: must be an object {near: {latitude, longitude}, radius_km, limit}")
        })?;
        if let Some(unknown) = object
            .keys()
            .find(|k| !["near", "radius_km", "limit"].contains(&k.as_str()))
        {
            return Err(invalid(format!(
                "select.{unknown}: unknown field (near, radius_km, limit)"
            )));
        }
        let near = object
            .get("near")
            .and_then(Value::as_object)
            .ok_or_else(|| invalid("select.near: must be an object {latitude, longitude}"))?;
        let latitude = number(near, "latitude", "select.near.latitude")?;
        let longitude = number(near, "longitude", "select.near.longitude")?;
        let near = Location::new(latitude, longitude)
            .map_err(|e| invalid(format!("select.near.{}", e.trim_start_matches("location."))))?;
        let radius_km = number(object, "radius_km", "select.radius_km")?;
        if !(radius_km > 0.0 && radius_km <= MAX_RADIUS_KM) {
            return Err(invalid(format!(
                "select.radius_km: must be more than 0 and at most {MAX_RADIUS_KM}"
            )));
        }
        let limit = object
            .get("limit")
            .and_then(Value::as_u64)
            .filter(|n| (1..=MAX_LIMIT).contains(n))
            .ok_or_else(|| {
                invalid(format!(
                    "select.limit: must be an integer between 1 and {MAX_LIMIT}"
                ))
            })?;
        Ok(Self {
            near,
            radius_km,
            limit: limit as usize,
        })
    }

    /// Up to `limit` probes drawn at random among the connected ones within the radius whose
    /// free capacity covers `per_probe`; [`CreateError::NoAvailableProbes`] when there is none.
    pub async fn choose(
        &self,
        store: &dyn Store,
        per_probe: f64,
    ) -> Result<Vec<ProbeId>, CreateError> {
        let mut candidates: Vec<ProbeId> = store
            .probes(None)
            .await?
            .into_iter()
            .filter(|probe| {
                probe
                    .link
                    .as_ref()
                    .is_some_and(|link| link.available_credits() as f64 >= per_probe)
                    && distance_km(self.near, probe.location) <= self.radius_km
            })
            .map(|probe| probe.id)
            .collect();
        if candidates.is_empty() {
            return Err(CreateError::NoAvailableProbes);
        }
        let (chosen, _) = candidates.partial_shuffle(&mut rand::thread_rng(), self.limit);
        Ok(chosen.to_vec())
    }
}

/// Great-circle distance (haversine formula).
pub fn distance_km(a: Location, b: Location) -> f64 {
    let (lat1, lat2) = (a.latitude().to_radians(), b.latitude().to_radians());
    let dlat = lat2 - lat1;
    let dlon = (b.longitude() - a.longitude()).to_radians();
    let h = (dlat / 2.0).sin().powi(2) + lat1.cos() * lat2.cos() * (dlon / 2.0).sin().powi(2);
    2.0 * EARTH_RADIUS_KM * h.sqrt().min(1.0).asin()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn at(latitude: f64, longitude: f64) -> Location {
        Location::new(latitude, longitude).unwrap()
    }

    #[test]
    fn distances_are_great_circle_kilometres() {
        // Buenos Aires to Montevideo: about 200 km.
        let d = distance_km(at(-34.6037, -58.3816), at(-34.9011, -56.1645));
        assert!((190.0..215.0).contains(&d), "{d}");
        assert!(distance_km(at(0.0, 0.0), at(0.0, 0.0)).abs() < 1e-9);
        let antipodes = distance_km(at(0.0, 0.0), at(0.0, 180.0));
        assert!((antipodes - 20_015.1).abs() < 1.0, "{antipodes}");
    }

    #[test]
    fn each_mistake_names_its_field() {
        let base =
            json!({"near": {"latitude": 1.0, "longitude": 2.0}, "radius_km": 10, "limit": 3});
        assert!(Selection::parse(&base).is_ok());
        for (field, value, named) in [
            ("near", json!(1), "select.near"),
            (
                "near",
                json!({"latitude": 91, "longitude": 0}),
                "select.near.latitude",
            ),
            (
                "near",
                json!({"latitude": 0, "longitude": "x"}),
                "select.near.longitude",
            ),
            ("radius_km", json!(0), "select.radius_km"),
            ("radius_km", json!(-5), "select.radius_km"),
            ("limit", json!(0), "select.limit"),
            ("limit", json!(1001), "select.limit"),
            ("limit", json!(2.5), "select.limit"),
            ("extra", json!(1), "select.extra"),
        ] {
            let mut body = base.clone();
            body[field] = value;
            let message = Selection::parse(&body).unwrap_err().to_string();
            assert!(message.starts_with(named), "{field}: {message}");
        }
    }
}
