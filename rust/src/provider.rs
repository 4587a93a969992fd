//! The OpenMLS provider: RustCrypto for crypto and randomness, and the state store.
//!
//! Every group and key package of one [`crate::client::Client`] lives in one store. The
//! store type is the single place to change to plug another storage backend in; the
//! public API does not see it.

use openmls_memory_storage::MemoryStorage;
use openmls_rust_crypto::RustCrypto;
use openmls_traits::OpenMlsProvider;

/// The storage backend behind every client.
pub type Storage = MemoryStorage;

#[derive(Default)]
pub struct Provider {
    crypto: RustCrypto,
    storage: Storage,
}

impl Provider {
    pub fn new() -> Self {
        Self::default()
    }

    /// Run `f` so that on error the store is as it was before: OpenMLS may write
    /// (or delete, as a consumed key package) before it fails.
    pub fn atomic<T>(
        &self,
        f: impl FnOnce() -> crate::error::Result<T>,
    ) -> crate::error::Result<T> {
        let snapshot = self
            .storage
            .values
            .read()
            .map_err(|_| crate::error::Error::Library("store lock poisoned".into()))?
            .clone();
        let result = f();
        if result.is_err() {
            if let Ok(mut values) = self.storage.values.write() {
                *values = snapshot;
            }
        }
        result
    }
}

impl OpenMlsProvider for Provider {
    type CryptoProvider = RustCrypto;
    type RandProvider = RustCrypto;
    type StorageProvider = Storage;

    fn storage(&self) -> &Self::StorageProvider {
        &self.storage
    }

    fn crypto(&self) -> &Self::CryptoProvider {
        &self.crypto
    }

    fn rand(&self) -> &Self::RandProvider {
        &self.crypto
    }
}
