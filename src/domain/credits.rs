//! Credits: the currency users spend on operations and probe owners earn with results.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A non-negative amount of credits. Arithmetic is checked: an amount never wraps and never goes
/// below zero, so "not enough credits" is a value, not a bug.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Credits(u64);

/// Largest balance; keeps every amount representable as a MongoDB 64-bit signed integer.
pub const MAX_CREDITS: u64 = i64::MAX as u64;

/// The amount does not fit (negative, fractional or larger than [`MAX_CREDITS`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("credits must be a whole number between 0 and {MAX_CREDITS}")]
pub struct InvalidCredits;

impl Credits {
    /// No credits.
    pub const ZERO: Credits = Credits(0);

    /// An amount, if it is at most [`MAX_CREDITS`].
    pub fn new(amount: u64) -> Result<Self, InvalidCredits> {
        if amount <= MAX_CREDITS {
            Ok(Self(amount))
        } else {
            Err(InvalidCredits)
        }
    }

    /// The amount as stored in MongoDB.
    pub fn from_stored(amount: i64) -> Result<Self, InvalidCredits> {
        u64::try_from(amount)
            .map_err(|_| InvalidCredits)
            .and_then(Self::new)
    }

    /// The amount.
    pub fn get(self) -> u64 {
        self.0
    }

    /// The amount as a MongoDB 64-bit integer (always fits).
    pub fn as_i64(self) -> i64 {
        self.0 as i64
    }

    /// `self + other`, or `None` past [`MAX_CREDITS`].
    pub fn checked_add(self, other: Credits) -> Option<Credits> {
        self.0
            .checked_add(other.0)
            .and_then(|n| Credits::new(n).ok())
    }

    /// `self - other`, or `None` if that would be negative.
    pub fn checked_sub(self, other: Credits) -> Option<Credits> {
        self.0.checked_sub(other.0).map(Credits)
    }
}

impl fmt::Display for Credits {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arithmetic_never_goes_negative_or_overflows() {
        let five = Credits::new(5).unwrap();
        assert_eq!(five.checked_sub(Credits::new(6).unwrap()), None);
        assert_eq!(five.checked_sub(five), Some(Credits::ZERO));
        let max = Credits::new(MAX_CREDITS).unwrap();
        assert_eq!(max.checked_add(Credits::new(1).unwrap()), None);
        assert!(Credits::new(MAX_CREDITS + 1).is_err());
        assert!(Credits::from_stored(-1).is_err());
    }
}
