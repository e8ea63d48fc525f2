//! Key encoding. Every key starts with raw identifier bytes, whose byte order is their creation
//! order, so a table scan or a prefix range returns records in creation order without sorting.

use crate::domain::{OperationId, ProbeId, ResultId};
use crate::store::{StoreError, StoreResult};
use std::ops::Bound;

/// Length of a raw identifier.
const ID_LEN: usize = 12;

/// A key made of two identifiers; both halves have a fixed length, so every key under one first
/// identifier lies between `first ++ 00…` and `first ++ ff…`.
pub(super) type PairKey = [u8; 2 * ID_LEN];

/// `first ++ second`.
pub(super) fn pair(first: [u8; ID_LEN], second: [u8; ID_LEN]) -> PairKey {
    let mut key = [0; 2 * ID_LEN];
    key[..ID_LEN].copy_from_slice(&first);
    key[ID_LEN..].copy_from_slice(&second);
    key
}

/// The second identifier of a [`pair`] key.
pub(super) fn second_of_pair(key: &[u8]) -> StoreResult<[u8; ID_LEN]> {
    <[u8; 2 * ID_LEN]>::try_from(key)
        .map(|key| key[ID_LEN..].try_into().expect("fixed length"))
        .map_err(|_| StoreError::Corrupt(format!("key of {} bytes, expected 24", key.len())))
}

/// Key of an assignment: by probe first, so a probe's assignments are one range.
pub(super) fn assignment(probe: ProbeId, operation: OperationId) -> PairKey {
    pair(probe.bytes(), operation.bytes())
}

/// Key of a result: by operation first, so an operation's results are one range in storage order.
pub(super) fn result(operation: OperationId, result: ResultId) -> PairKey {
    pair(operation.bytes(), result.bytes())
}

/// Key of the dedup index of results. The code is last and the ids have a fixed length, so two
/// different triples can never encode to the same key.
pub(super) fn result_code(operation: OperationId, probe: ProbeId, unique_code: &str) -> Vec<u8> {
    let mut key = Vec::with_capacity(2 * ID_LEN + unique_code.len());
    key.extend_from_slice(&operation.bytes());
    key.extend_from_slice(&probe.bytes());
    key.extend_from_slice(unique_code.as_bytes());
    key
}

/// The [`pair`] keys whose first identifier is `first`, starting after `after` (a second
/// identifier) when given.
pub(super) fn pairs_of(first: [u8; ID_LEN], after: Option<[u8; ID_LEN]>) -> PairRange {
    let start = match after {
        Some(second) => Bound::Excluded(pair(first, second)),
        None => Bound::Included(pair(first, [0; ID_LEN])),
    };
    PairRange {
        start,
        end: pair(first, [0xff; ID_LEN]),
    }
}

/// A range of [`pair`] keys; owns its bounds, lends them as the slices redb wants.
pub(super) struct PairRange {
    start: Bound<PairKey>,
    end: PairKey,
}

impl PairRange {
    /// The bounds as byte slices.
    pub(super) fn bounds(&self) -> (Bound<&[u8]>, Bound<&[u8]>) {
        (
            self.start.as_ref().map(|k| &k[..]),
            Bound::Included(&self.end[..]),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ops::RangeBounds;

    fn holds(keys: &PairRange, key: PairKey) -> bool {
        RangeBounds::<&[u8]>::contains(&keys.bounds(), &&key[..])
    }

    #[test]
    fn pair_keys_sort_by_first_then_second_id() {
        let (a, b) = (OperationId::generate(), OperationId::generate());
        let (x, y) = (ResultId::generate(), ResultId::generate());
        assert!(result(a, y) < result(b, x));
        assert!(result(a, x) < result(a, y));
        assert_eq!(second_of_pair(&result(a, y)).unwrap(), y.bytes());
        assert!(matches!(
            second_of_pair(&[0; 23]),
            Err(StoreError::Corrupt(_))
        ));
    }

    #[test]
    fn pair_range_holds_exactly_the_keys_of_one_first_id() {
        let probe = ProbeId::from_bytes([7; 12]);
        let keys = pairs_of(probe.bytes(), None);
        for second in [[0; 12], [0x80; 12], [0xff; 12]] {
            assert!(holds(&keys, pair(probe.bytes(), second)));
        }
        for first in [[6; 12], [8; 12]] {
            assert!(!holds(&keys, pair(first, [0x80; 12])));
        }
    }

    #[test]
    fn pair_range_after_a_cursor_excludes_the_cursor() {
        let operation = OperationId::generate();
        let (cursor, next) = (ResultId::generate(), ResultId::generate());
        let keys = pairs_of(operation.bytes(), Some(cursor.bytes()));
        assert!(!holds(&keys, result(operation, cursor)));
        assert!(holds(&keys, result(operation, next)));
    }

    #[test]
    fn result_codes_of_different_triples_differ() {
        let operation = OperationId::from_bytes([1; 12]);
        let (p, q) = (ProbeId::from_bytes([2; 12]), ProbeId::from_bytes([3; 12]));
        assert_ne!(
            result_code(operation, p, "a"),
            result_code(operation, q, "a")
        );
        assert_ne!(
            result_code(operation, p, "a"),
            result_code(operation, p, "ab")
        );
        assert_eq!(result_code(operation, p, "code").len(), 28);
    }
}
