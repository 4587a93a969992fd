//! The OpenMLS provider: AWS-LC for crypto and randomness ([`crate::crypto`]), and the
//! state store.
//!
//! Every group and key package of one [`crate::client::Client`] lives in one store, a
//! [`KvStorage`]: in memory, or an SQLite file. The store type is the single place to
//! change to plug another backend in; the public API does not see it.

use std::path::Path;

use openmls_traits::OpenMlsProvider;

pub use crate::crypto::AwsLcCrypto as Crypto;
use crate::error::{guard, Error, Result};
use crate::storage::{KvStorage, SqliteOptions};

/// The storage backend behind every client.
pub type Storage = KvStorage;

pub struct Provider {
    crypto: Crypto,
    storage: Storage,
}

impl Provider {
    pub fn in_memory() -> Self {
        Self {
            crypto: Crypto,
            storage: KvStorage::in_memory(),
        }
    }

    /// A provider over `storage` (e.g. an archive view of another provider's store).
    pub fn with_storage(storage: Storage) -> Self {
        Self {
            crypto: Crypto,
            storage,
        }
    }

    /// Open (or create) an SQLite store. The file and its `-wal` and `-shm` companions
    /// are made readable by their owner only, whatever the umask (they hold private
    /// keys; see the README on keys at rest).
    pub fn open(path: &Path, options: SqliteOptions) -> Result<Self> {
        let storage = KvStorage::open_sqlite(path, options)?;
        Ok(Self {
            crypto: Crypto,
            storage,
        })
    }

    /// Open (or create) a PostgreSQL store (see [`crate::pg_storage`]).
    pub fn open_postgres(url: &str, options: crate::pg_storage::PgOptions) -> Result<Self> {
        Ok(Self {
            crypto: Crypto,
            storage: crate::pg_storage::open(url, options)?,
        })
    }

    /// Run `f` as one transaction of the store: all of its writes or none of them.
    ///
    /// `f` learns whether another connection changed the store since this one last
    /// looked (its in-memory objects must then be reloaded). OpenMLS may write, or
    /// delete (a consumed key package), before it fails: on error everything is undone.
    pub fn atomic<T>(&self, f: impl FnOnce(bool) -> Result<T>) -> Result<T> {
        self.atomic_keep(f, |_| true)
    }

    /// Like [`Self::atomic`], but a successful result for which `keep` says false is
    /// not written either (the store stays as before `f`).
    ///
    /// A panic inside `f` is caught ([`guard`]): the transaction is rolled back (the
    /// file's write lock released) and the panic returned as [`Error::Library`].
    pub fn atomic_keep<T>(
        &self,
        f: impl FnOnce(bool) -> Result<T>,
        keep: impl FnOnce(&T) -> bool,
    ) -> Result<T> {
        let stale = self.storage.begin()?;
        match guard(|| f(stale)) {
            Ok(v) if !keep(&v) => {
                self.storage.rollback()?;
                Ok(v)
            }
            Ok(v) => match self.storage.commit() {
                Ok(()) => Ok(v),
                Err(e) => {
                    let _ = self.storage.rollback();
                    Err(e.into())
                }
            },
            Err(e) => {
                self.storage
                    .rollback()
                    .map_err(|r| Error::Storage(format!("{e}; and the rollback failed: {r}")))?;
                Err(e)
            }
        }
    }
}

impl OpenMlsProvider for Provider {
    type CryptoProvider = Crypto;
    type RandProvider = Crypto;
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
