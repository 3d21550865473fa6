//! The Docker Engine API's wire types, as moby's swagger (api/swagger.yaml)
//! defines them: what berth's server sends and its client reads. Field
//! order is the swagger's (Go's struct order), which is the order a client
//! that re-prints JSON shows, as `docker inspect` does; a field dockerd
//! always sends is always sent, `null` included.
//!
//! Types move here one API area at a time; each module names the swagger
//! definitions it holds.

#![forbid(unsafe_code)]

pub mod container;
pub mod detach;
pub mod network;
pub mod volume;

/// A map or list dockerd sends as `null` when empty (Go's nil), read back
/// as empty.
pub(crate) mod empty_as_null {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub trait IsEmpty {
        fn is_empty_value(&self) -> bool;
    }

    impl<K, V> IsEmpty for std::collections::BTreeMap<K, V> {
        fn is_empty_value(&self) -> bool {
            self.is_empty()
        }
    }

    impl<T> IsEmpty for Vec<T> {
        fn is_empty_value(&self) -> bool {
            self.is_empty()
        }
    }

    pub fn serialize<T: Serialize + IsEmpty, S: Serializer>(
        v: &T,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        if v.is_empty_value() {
            s.serialize_none()
        } else {
            v.serialize(s)
        }
    }

    pub fn deserialize<'de, T: Deserialize<'de> + Default, D: Deserializer<'de>>(
        d: D,
    ) -> Result<T, D::Error> {
        Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
    }
}
