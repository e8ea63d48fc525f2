//! Property tests of the credit arithmetic: a balance is never negative and never overflows,
//! whatever the amounts.

use pladmed::domain::{Credits, MAX_CREDITS};
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2048))]

    #[test]
    fn amounts_are_exactly_the_non_negative_i64_range(amount in any::<u64>(), stored in any::<i64>()) {
        prop_assert_eq!(Credits::new(amount).is_ok(), amount <= MAX_CREDITS);
        prop_assert_eq!(Credits::from_stored(stored).is_ok(), stored >= 0);
        if let Ok(credits) = Credits::from_stored(stored) {
            prop_assert_eq!(credits.as_i64(), stored);
        }
    }

    #[test]
    fn addition_and_subtraction_are_checked(a in 0..=MAX_CREDITS, b in 0..=MAX_CREDITS) {
        let (x, y) = (Credits::new(a).unwrap(), Credits::new(b).unwrap());
        match x.checked_add(y) {
            Some(sum) => {
                prop_assert_eq!(sum.get(), a + b);
                prop_assert!(sum.get() <= MAX_CREDITS);
            }
            None => prop_assert!(a + b > MAX_CREDITS),
        }
        match x.checked_sub(y) {
            Some(difference) => prop_assert_eq!(difference.get(), a - b),
            None => prop_assert!(a < b),
        }
    }

    /// Debit then refund (what creating and then failing an operation does) restores the
    /// balance exactly, and a debit larger than the balance is refused rather than clamped.
    #[test]
    fn debit_then_refund_restores_the_balance(balance in 0..=MAX_CREDITS, cost in 0..=MAX_CREDITS) {
        let balance = Credits::new(balance).unwrap();
        let cost = Credits::new(cost).unwrap();
        match balance.checked_sub(cost) {
            Some(left) => prop_assert_eq!(left.checked_add(cost), Some(balance)),
            None => prop_assert!(cost > balance),
        }
    }
}
