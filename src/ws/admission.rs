//! Admission before the upgrade: how many probe links one client address, and the server as
//! a whole, may hold open. A refused client costs one HTTP reply, not a WebSocket task.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

/// Open link counts, shared by every upgrade.
#[derive(Clone)]
pub struct LinkSlots {
    counts: Arc<Mutex<Counts>>,
    per_address: usize,
    total: usize,
}

#[derive(Default)]
struct Counts {
    total: usize,
    by_address: HashMap<IpAddr, usize>,
}

/// Why a link was not admitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Full {
    /// This client address holds its share of links (429).
    Address,
    /// The server holds as many links as it may (503).
    Server,
}

/// One admitted link; dropping it frees the slot.
pub struct Slot {
    slots: LinkSlots,
    address: Option<IpAddr>,
}

impl LinkSlots {
    /// At most `per_address` links per client address and `total` in all.
    pub fn new(per_address: usize, total: usize) -> Self {
        Self {
            counts: Arc::default(),
            per_address,
            total,
        }
    }

    /// A slot for a link from `address` (unknown addresses count only toward the total).
    pub fn take(&self, address: Option<IpAddr>) -> Result<Slot, Full> {
        let mut counts = self.counts.lock().expect("slot counts are never poisoned");
        if counts.total >= self.total {
            return Err(Full::Server);
        }
        if let Some(address) = address {
            let held = counts.by_address.entry(address).or_default();
            if *held >= self.per_address {
                return Err(Full::Address);
            }
            *held += 1;
        }
        counts.total += 1;
        Ok(Slot {
            slots: self.clone(),
            address,
        })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut counts = self
            .slots
            .counts
            .lock()
            .expect("slot counts are never poisoned");
        counts.total -= 1;
        if let Some(address) = self.address {
            if let Some(held) = counts.by_address.get_mut(&address) {
                *held -= 1;
                if *held == 0 {
                    counts.by_address.remove(&address);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_counted_per_address_and_in_total_and_freed_on_drop() {
        let slots = LinkSlots::new(2, 3);
        let (a, b) = ("10.0.0.1".parse().ok(), "10.0.0.2".parse().ok());
        let first = slots.take(a).unwrap();
        let _second = slots.take(a).unwrap();
        assert_eq!(slots.take(a).err(), Some(Full::Address));
        let _third = slots.take(b).unwrap();
        assert_eq!(slots.take(b).err(), Some(Full::Server));
        drop(first);
        assert!(slots.take(a).is_ok());
        assert!(slots.counts.lock().unwrap().by_address.len() <= 2);
    }
}
