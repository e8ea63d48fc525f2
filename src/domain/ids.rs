//! Identifiers of stored entities: MongoDB ObjectIds, shown to clients as 24 hex digits.

use bson::oid::ObjectId;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// A string that is not 24 hex digits was given where an identifier was expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a valid identifier (24 hex digits expected)")]
pub struct InvalidId;

macro_rules! object_id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(ObjectId);

        impl $name {
            /// A fresh identifier; ordered by creation time within one process.
            pub fn generate() -> Self {
                Self(ObjectId::new())
            }

            /// The underlying ObjectId (as stored in MongoDB).
            pub fn oid(self) -> ObjectId {
                self.0
            }

            /// The 12 raw bytes; their order is the creation order.
            pub fn bytes(self) -> [u8; 12] {
                self.0.bytes()
            }

            /// Rebuilds an identifier from its raw bytes.
            pub fn from_bytes(bytes: [u8; 12]) -> Self {
                Self(ObjectId::from_bytes(bytes))
            }
        }

        impl From<ObjectId> for $name {
            fn from(oid: ObjectId) -> Self {
                Self(oid)
            }
        }

        impl FromStr for $name {
            type Err = InvalidId;
            fn from_str(s: &str) -> Result<Self, InvalidId> {
                ObjectId::parse_str(s).map(Self).map_err(|_| InvalidId)
            }
        }

        impl TryFrom<String> for $name {
            type Error = InvalidId;
            fn try_from(s: String) -> Result<Self, InvalidId> {
                s.parse()
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0.to_hex()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0.to_hex())
            }
        }
    };
}

object_id_type!(
    /// Identifies a user account.
    UserId
);
object_id_type!(
    /// Identifies a probe (the original API calls it `identifier`).
    ProbeId
);
object_id_type!(
    /// Identifies an operation.
    OperationId
);
object_id_type!(
    /// Identifies one stored result; also the pagination cursor of an operation's results.
    ResultId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_only_24_hex_digits() {
        assert!("6047c91ef391a23bca4c31d8".parse::<ProbeId>().is_ok());
        for bad in [
            "",
            "xyz",
            "6047c91ef391a23bca4c31d",
            "6047c91ef391a23bca4c31d8aa",
        ] {
            assert_eq!(bad.parse::<ProbeId>(), Err(InvalidId), "{bad}");
        }
    }

    #[test]
    fn serialises_as_hex_string() {
        let id = UserId::generate();
        let json = serde_json::to_string(&id).unwrap();
        assert_eq!(json, format!("\"{id}\""));
        assert_eq!(serde_json::from_str::<UserId>(&json).unwrap(), id);
    }
}
