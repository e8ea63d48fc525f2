//! What a probe holds in use while it runs an operation (the operation's `credits_per_probe`),
//! remembered per operation: `accepted` and `finished` need it for every probe of an
//! operation, and reading the operation each time would be one more database command per
//! message. Operations never change once stored, so what is remembered stays true; an operation
//! deleted since has no assignment left, which the store reports anyway.

use crate::domain::OperationId;
use crate::store::{Operation, Store, StoreResult};

/// Operations remembered at most; the oldest unused are forgotten first.
const CAPACITY: u64 = 100_000;

/// The per-probe price of recent operations, shared by the links of this process.
#[derive(Clone)]
pub struct Prices(moka::sync::Cache<OperationId, u64>);

impl Default for Prices {
    fn default() -> Self {
        Prices(moka::sync::Cache::new(CAPACITY))
    }
}

impl Prices {
    /// Remembers the price of an operation this process created or read.
    pub fn remember(&self, operation: &Operation) {
        self.0.insert(operation.id, operation.credits_per_probe);
    }

    /// The per-probe price of operation `id`, read from `store` if not remembered; `None` if
    /// there is no such operation.
    pub async fn of(&self, store: &dyn Store, id: OperationId) -> StoreResult<Option<u64>> {
        if let Some(price) = self.0.get(&id) {
            return Ok(Some(price));
        }
        let operation = store.operation(id).await?;
        if let Some(operation) = &operation {
            self.remember(operation);
        }
        Ok(operation.map(|o| o.credits_per_probe))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::embedded::EmbeddedStore;

    #[tokio::test]
    async fn an_unknown_operation_has_no_price_and_is_not_remembered() {
        let dir = tempfile::tempdir().unwrap();
        let store = EmbeddedStore::open(dir.path()).unwrap();
        let prices = Prices::default();
        let id = OperationId::generate();
        assert_eq!(prices.of(&store, id).await.unwrap(), None);
        assert_eq!(prices.0.get(&id), None);
    }
}
