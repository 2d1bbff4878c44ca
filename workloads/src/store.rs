//! The primitive interface every store under test offers: get, set,
//! compare-and-set, contains and remove on string keys and values. A
//! harness client (the bundled store's HTTP API, etcd's gateway, your own
//! store) implements [`KvClient`]; workloads build their operations on it.

use std::future::Future;
use std::pin::Pin;

/// A boxed future, so clients can be used as trait objects.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// One call to the store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StoreOp {
    /// Read a key (`None`: absent).
    Get {
        /// The key.
        key: String,
    },
    /// Write a key.
    Set {
        /// The key.
        key: String,
        /// The value.
        value: String,
    },
    /// Write `to` if the key holds `from` (`None`: the key must be absent).
    Cas {
        /// The key.
        key: String,
        /// The expected value.
        from: Option<String>,
        /// The new value.
        to: String,
    },
    /// Whether the key exists.
    Contains {
        /// The key.
        key: String,
    },
    /// Delete a key.
    Remove {
        /// The key.
        key: String,
    },
}

/// A successful reply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StoreReply {
    /// A get's value (`None`: absent).
    Value(Option<String>),
    /// A set or a cas that took effect.
    Done,
    /// Whether the key existed (contains), or existed before (remove;
    /// `None` when the store does not say).
    Exists(Option<bool>),
    /// A cas that found another value and changed nothing.
    CasMismatch,
}

/// Why a call did not succeed. The distinction is the whole point of a
/// fault test: guessing wrong makes a correct store look broken or hides a
/// broken one.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// The store certainly did not and will not apply the call (refused
    /// before doing anything, e.g. no leader, bad request, connection
    /// refused before sending).
    #[error("refused: {0}")]
    Definite(String),
    /// The call may have taken effect (timeout, reset after sending,
    /// leadership lost after proposing).
    #[error("indeterminate: {0}")]
    Indeterminate(String),
}

/// A client of one store node, used by one logical process at a time.
pub trait KvClient: Send + Sync {
    /// Performs one call. Implementations bound it by their per-operation
    /// timeout and report a timeout as [`StoreError::Indeterminate`].
    fn call(&self, op: StoreOp) -> BoxFuture<'_, Result<StoreReply, StoreError>>;
}
