//! The state store behind OpenMLS: a transactional key/value store, kept in memory or
//! persisted in an SQLite file, or in PostgreSQL ([`crate::pg_storage`]): a persistent
//! store reaches its database through the [`Backend`] trait, and everything below
//! said of SQLite's file holds for PostgreSQL's schema too (the locking is that of
//! `pg_storage`).
//!
//! [`KvStorage`] implements OpenMLS's [`StorageProvider`] (storage version
//! [`CURRENT_VERSION`]) with the semantics of `openmls_memory_storage`: one value per
//! (label, key), lists for the own leaf nodes and the proposal queue, epoch key pairs
//! keyed by (group, epoch, leaf index). It adds what the binding needs on top:
//!
//! * **Transactions with an undo log.** [`KvStorage::begin`] opens a transaction;
//!   every write or delete then records the key's previous state once.
//!   [`KvStorage::rollback`] puts those states back (cost proportional to the
//!   changes), so a failed operation leaves no trace, even where OpenMLS wrote or
//!   deleted (a consumed key package) before it failed. [`KvStorage::commit`] writes
//!   the changed keys to SQLite in one SQLite transaction.
//! * **Atomic single writes.** A write outside a transaction is a transaction of its
//!   own, and so is every trait call inside one (a failed `queue_proposal` leaves
//!   neither the proposal nor its queue entry).
//! * **An application namespace** ([`KvStorage::put_app`] and friends) for the
//!   binding's own records, in the same transactions as the OpenMLS state.
//!
//! # Keys and values
//!
//! Every record is one row `kv(key, value)`. OpenMLS records use the key
//! `"mls:" ‖ label ‖ ":" ‖ JSON(key parts) ‖ version (u16, big endian)` and the
//! value `JSON(entity)`; a list is a JSON array of entities. Multi-part keys are
//! JSON arrays whose first element is the group id, so all the records of a group
//! under one label share a prefix ([`KvStorage::delete_group`] relies on that).
//! Application records use `"app:" ‖ key`. Both prefixes end in `:`, and a label
//! never contains one, so the namespaces cannot collide. An archive
//! ([`KvStorage::archive`]: a conversation's previous era, kept to read its late
//! messages) is a view whose keys are `"arc:" ‖ hex(name) ‖ ":" ‖ key`.
//!
//! # Reads and the cache
//!
//! The working set is a map from key to `Some(value)` or `None` (known absent). With
//! the in-memory backend the map is the whole store. With SQLite it is a
//! read-through cache: a miss reads the row (or its absence) from the file and keeps
//! it, so opening a large store is instant and only what is used is loaded. The
//! cache is dropped when another connection changed the file (see below), and when
//! it holds more than [`CACHE_MAX_ENTRIES`] entries at the start of a transaction.
//!
//! # Several processes on one file
//!
//! With SQLite, the outermost [`KvStorage::begin`] runs `BEGIN IMMEDIATE`: it takes
//! the file's write lock (waiting up to the busy timeout, then failing with
//! [`StorageError::Locked`]) and holds it until commit or rollback, so operations of
//! different processes are serialised. It then reads `PRAGMA data_version`, which
//! changes exactly when another connection committed; if it changed, the cache is
//! dropped and `begin` returns `true`, telling the caller that objects it built from
//! the store (an `MlsGroup`) are stale and must be loaded again. Reads outside a
//! transaction use the cache as it is; call `begin` for a fresh, consistent view.
//!
//! # Nested transactions
//!
//! `begin` inside a transaction opens a nested one (a savepoint of the undo log; no
//! SQLite statement). Committing it folds its changes into the enclosing
//! transaction, where they are still undone by an outer rollback; only the outermost
//! commit writes to the file. Rolling it back undoes only its own changes.
//!
//! # Threads
//!
//! `KvStorage` is `Send + Sync`; every call takes an internal mutex. A transaction
//! belongs to the store, not to a thread: writes made by another thread while one is
//! open join it. The binding serialises operations per client, which is what makes
//! "one transaction per public operation" hold.
//!
//! # Files that are not ours
//!
//! Opening never writes to a file before it is recognised: a file that is not an
//! SQLite database, an SQLite database without our metadata, and a store written by a
//! newer schema are refused with distinct errors and left as they were (an SQLite
//! file only has its mode restricted, see below). A new store
//! is created only where no file exists, the file is empty, or it is an SQLite
//! database with no schema objects at all.
//!
//! # Durability and secrets on disk
//!
//! The file is in WAL mode with `synchronous=NORMAL`: a commit survives a crash of
//! the process; a power loss may lose the last commits but never corrupts the file.
//! `secure_delete` is on, so deleted secrets (consumed key packages, old epoch
//! secrets) are overwritten in the database file; old page images can remain in the
//! `-wal` file until SQLite reuses that space.
//!
//! On Unix the store file is created with mode 0600, and opening sets 0600 on an
//! existing file (an empty one included) and on its `-wal`, `-shm` and `-journal`
//! companions, whatever the umask, before SQLite opens it: SQLite creates the
//! companions with the mode of the database file, so they are owner-only too.
//!
//! Values in the cache and the undo log are wiped from memory when they are replaced,
//! rolled back, evicted or dropped, and entities are serialised without leaving copies
//! in freed memory.
//!
//! Encryption at rest is not built in. SQLCipher would give it: build `rusqlite` with
//! `bundled-sqlcipher-vendored-openssl` instead of `bundled` (that compiles OpenSSL's
//! libcrypto, which is why it is not the default), skip the raw header check in
//! [`KvStorage::open_sqlite`] (an encrypted file looks like random bytes), and make
//! `PRAGMA key` the first statement on the connection; a wrong key then shows up as
//! [`StorageError::NotADatabase`] at the first read. Without SQLCipher, `PRAGMA key`
//! is silently ignored, so an option that took a key would be a trap: there is none.

use std::collections::{BTreeMap, HashMap};
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use openmls_traits::storage::{traits, StorageProvider, CURRENT_VERSION};
use rusqlite::{params, Connection, ErrorCode, OpenFlags, OptionalExtension};
use serde::de::DeserializeOwned;
use serde::Serialize;
use zeroize::Zeroizing;

/// The schema version this code writes, and the newest it reads.
pub const SCHEMA_VERSION: i64 = 1;

/// What the `meta` table's `application` column holds in our stores.
pub const APPLICATION: &str = "rcs-mls";

/// At the start of an outermost transaction a cache larger than this is dropped.
pub const CACHE_MAX_ENTRIES: usize = 65_536;

/// The first 16 bytes of every SQLite 3 database file.
const SQLITE_HEADER: &[u8; 16] = b"SQLite format 3\0";

/// `PRAGMA application_id` of our files ("RCML"): a second marker, visible to `file(1)`.
const SQLITE_APPLICATION_ID: i32 = 0x5243_4d4c;

const MLS_PREFIX: &[u8] = b"mls:";
const APP_PREFIX: &[u8] = b"app:";
const ARCHIVE_PREFIX: &[u8] = b"arc:";

// Labels of the OpenMLS records.
const KEY_PACKAGE: &str = "KeyPackage";
const PSK: &str = "Psk";
const ENCRYPTION_KEY_PAIR: &str = "EncryptionKeyPair";
const SIGNATURE_KEY_PAIR: &str = "SignatureKeyPair";
const EPOCH_KEY_PAIRS: &str = "EpochKeyPairs";
const TREE: &str = "Tree";
const GROUP_CONTEXT: &str = "GroupContext";
const INTERIM_TRANSCRIPT_HASH: &str = "InterimTranscriptHash";
const CONFIRMATION_TAG: &str = "ConfirmationTag";
const JOIN_CONFIG: &str = "MlsGroupJoinConfig";
const OWN_LEAF_NODES: &str = "OwnLeafNodes";
const GROUP_STATE: &str = "GroupState";
const QUEUED_PROPOSAL: &str = "QueuedProposal";
const PROPOSAL_QUEUE_REFS: &str = "ProposalQueueRefs";
const OWN_LEAF_NODE_INDEX: &str = "OwnLeafNodeIndex";
const EPOCH_SECRETS: &str = "EpochSecrets";
const RESUMPTION_PSK_STORE: &str = "ResumptionPsk";
const MESSAGE_SECRETS: &str = "MessageSecrets";

/// Labels whose key is the group id alone.
const GROUP_LABELS: &[&str] = &[
    TREE,
    GROUP_CONTEXT,
    INTERIM_TRANSCRIPT_HASH,
    CONFIRMATION_TAG,
    JOIN_CONFIG,
    OWN_LEAF_NODES,
    GROUP_STATE,
    PROPOSAL_QUEUE_REFS,
    OWN_LEAF_NODE_INDEX,
    EPOCH_SECRETS,
    RESUMPTION_PSK_STORE,
    MESSAGE_SECRETS,
];

/// Labels whose key is a JSON array starting with the group id.
const GROUP_TUPLE_LABELS: &[&str] = &[QUEUED_PROPOSAL, EPOCH_KEY_PAIRS];

/// Why a store operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StorageError {
    /// The file exists but is not an SQLite database (or it is encrypted).
    #[error("{path} is not an rcs-mls store: it is not an SQLite database (or it is encrypted)")]
    NotADatabase { path: String },
    /// An SQLite database without rcs-mls metadata: another application's file.
    #[error("{path} is not an rcs-mls store: it is an SQLite database of another application")]
    ForeignDatabase { path: String },
    /// The store was written by a newer rcs-mls.
    #[error(
        "{path} was created by a newer rcs-mls (store schema {found}, this version reads up to \
         {supported}); upgrade rcs-mls to open it"
    )]
    NewerSchema {
        path: String,
        found: i64,
        supported: i64,
    },
    /// The file does not exist and creating it was not allowed.
    #[error("{path}: no such store")]
    NotFound { path: String },
    /// Another process or connection held the lock past the busy timeout.
    #[error("the store is locked by another process or connection (busy timeout expired)")]
    Locked,
    /// Our own store, but its content is inconsistent.
    #[error("the store is corrupt: {0}")]
    Corrupt(String),
    /// A value could not be encoded, or a stored value could not be decoded.
    #[error("a stored value could not be encoded or decoded: {0}")]
    Serialization(String),
    /// `commit` without an open transaction.
    #[error("no transaction is open")]
    NoTransaction,
    /// A thread panicked while it held the store's lock.
    #[error("the store's lock is poisoned")]
    Poisoned,
    /// Opening or reading the file failed.
    #[error("{path}: {message}")]
    Io { path: String, message: String },
    /// Any other SQLite error.
    #[error("database error: {0}")]
    Database(String),
}

impl From<rusqlite::Error> for StorageError {
    fn from(e: rusqlite::Error) -> Self {
        match e.sqlite_error_code() {
            Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => StorageError::Locked,
            Some(ErrorCode::DatabaseCorrupt) => StorageError::Corrupt(e.to_string()),
            _ => StorageError::Database(e.to_string()),
        }
    }
}

impl From<serde_json::Error> for StorageError {
    fn from(e: serde_json::Error) -> Self {
        // serde_json's messages name a position and an expectation, never the data.
        StorageError::Serialization(e.to_string())
    }
}

type Result<T> = std::result::Result<T, StorageError>;

/// Settings for [`KvStorage::open_sqlite`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqliteOptions {
    /// How long to wait for another connection's lock before failing with
    /// [`StorageError::Locked`].
    pub busy_timeout: Duration,
    /// Create the store if the file does not exist (or is empty).
    pub create: bool,
}

impl Default for SqliteOptions {
    fn default() -> Self {
        Self {
            busy_timeout: Duration::from_secs(5),
            create: true,
        }
    }
}

/// A stored value: wiped from memory when it leaves the cache or the undo log (values
/// hold private keys and epoch secrets).
type Value = Zeroizing<Vec<u8>>;

/// A key's state before a transaction first touched it: `None` when the key was not
/// in the working set, else its entry there.
type Undo = HashMap<Vec<u8>, Option<Option<Value>>>;

/// The database behind the working set of a persistent store: an SQLite file
/// ([`Db`]) or a PostgreSQL schema ([`crate::pg_storage::PgDb`]).
///
/// Every method runs on the store's one connection; the outermost transaction of
/// [`KvStorage`] maps onto one database transaction.
pub(crate) trait Backend: Send {
    /// Where the store is, for messages and `Debug` (never a password).
    fn location(&self) -> String;
    /// The SQLite file, for a store that is one.
    fn file(&self) -> Option<PathBuf> {
        None
    }
    /// The stored value of `key`, or `None`.
    fn get(&mut self, key: &[u8]) -> Result<Option<Vec<u8>>>;
    /// Every row with `start <= key < end` (no upper bound when `end` is `None`).
    fn range(&mut self, start: &[u8], end: Option<&[u8]>) -> Result<Vec<(Vec<u8>, Vec<u8>)>>;
    /// Open a transaction that excludes every other connection's until it ends.
    /// Returns `true` when another connection changed the store since this one last
    /// looked (or this one cannot know: its connection was lost).
    fn begin(&mut self) -> Result<bool>;
    /// Write `changes` (`None` deletes the key) and commit. On error nothing of the
    /// transaction is in the database and no transaction is left open.
    fn commit(&mut self, changes: &[(&[u8], Option<&[u8]>)]) -> Result<()>;
    /// Roll the open transaction back.
    fn rollback(&mut self) -> Result<()>;
}

struct Db {
    conn: Connection,
    path: PathBuf,
    /// `PRAGMA data_version` when this connection last looked; it changes when another
    /// connection commits.
    data_version: i64,
}

impl Backend for Db {
    fn location(&self) -> String {
        self.path.display().to_string()
    }

    fn file(&self) -> Option<PathBuf> {
        Some(self.path.clone())
    }

    fn get(&mut self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        Ok(self
            .conn
            .prepare_cached("SELECT value FROM kv WHERE key = ?1")?
            .query_row(params![key], |r| r.get(0))
            .optional()?)
    }

    fn range(&mut self, start: &[u8], end: Option<&[u8]>) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        let mut rows = Vec::new();
        match end {
            Some(end) => {
                let mut stmt = self
                    .conn
                    .prepare_cached("SELECT key, value FROM kv WHERE key >= ?1 AND key < ?2")?;
                let mapped = stmt.query_map(params![start, end], |r| {
                    Ok((r.get::<_, Vec<u8>>(0)?, r.get::<_, Vec<u8>>(1)?))
                })?;
                for row in mapped {
                    rows.push(row?);
                }
            }
            None => {
                let mut stmt = self
                    .conn
                    .prepare_cached("SELECT key, value FROM kv WHERE key >= ?1")?;
                let mapped = stmt.query_map(params![start], |r| {
                    Ok((r.get::<_, Vec<u8>>(0)?, r.get::<_, Vec<u8>>(1)?))
                })?;
                for row in mapped {
                    rows.push(row?);
                }
            }
        }
        Ok(rows)
    }

    fn begin(&mut self) -> Result<bool> {
        if !self.conn.is_autocommit() {
            // A failed ROLLBACK earlier left SQLite's transaction open.
            self.conn.execute_batch("ROLLBACK")?;
        }
        self.conn.execute_batch("BEGIN IMMEDIATE")?;
        let version = self
            .conn
            .pragma_query_value(None, "data_version", |r| r.get::<_, i64>(0));
        match version {
            Ok(v) => {
                let changed = v != self.data_version;
                self.data_version = v;
                Ok(changed)
            }
            Err(e) => {
                let _ = self.conn.execute_batch("ROLLBACK");
                Err(e.into())
            }
        }
    }

    fn commit(&mut self, changes: &[(&[u8], Option<&[u8]>)]) -> Result<()> {
        match flush(&self.conn, changes) {
            Ok(()) => Ok(()),
            Err(e) => {
                let _ = self.conn.execute_batch("ROLLBACK");
                Err(e)
            }
        }
    }

    fn rollback(&mut self) -> Result<()> {
        Ok(self.conn.execute_batch("ROLLBACK")?)
    }
}

struct Inner {
    /// Key -> `Some(value)` or `None` (known absent). The whole store in memory; a
    /// read-through cache over `db` otherwise.
    entries: HashMap<Vec<u8>, Option<Value>>,
    /// The undo log, one frame per open (nested) transaction, outermost first.
    frames: Vec<Undo>,
    db: Option<Box<dyn Backend>>,
}

/// The OpenMLS state store (see the module documentation).
pub struct KvStorage {
    inner: Arc<Mutex<Inner>>,
    /// The namespace of this view's keys: empty for the store itself, `"arc:" ‖
    /// hex(name) ‖ ":"` for an archive ([`KvStorage::archive`]).
    ns: Vec<u8>,
}

impl Default for KvStorage {
    /// An in-memory store.
    fn default() -> Self {
        Self::in_memory()
    }
}

impl std::fmt::Debug for KvStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the entries: they hold private keys.
        let mut d = f.debug_struct("KvStorage");
        if let Ok(inner) = self.inner.lock() {
            match &inner.db {
                Some(db) => d.field("location", &db.location()),
                None => d.field("backend", &"memory"),
            };
            d.field("transaction_depth", &inner.frames.len());
        }
        d.finish_non_exhaustive()
    }
}

impl KvStorage {
    /// A store that lives only in memory (transactions and rollback still work).
    pub fn in_memory() -> Self {
        Self {
            inner: Arc::new(Mutex::new(Inner {
                entries: HashMap::new(),
                frames: Vec::new(),
                db: None,
            })),
            ns: Vec::new(),
        }
    }

    /// Open the store in the SQLite file at `path`, creating it if allowed and the
    /// file does not exist or is empty.
    ///
    /// Errors: [`StorageError::NotADatabase`], [`StorageError::ForeignDatabase`],
    /// [`StorageError::NewerSchema`] (the file is left untouched),
    /// [`StorageError::NotFound`], [`StorageError::Locked`], [`StorageError::Io`],
    /// [`StorageError::Database`].
    pub fn open_sqlite(path: &Path, options: SqliteOptions) -> Result<Self> {
        let shown = path.display().to_string();
        let io_err = |e: std::io::Error| StorageError::Io {
            path: shown.clone(),
            message: e.to_string(),
        };
        let has_content = match std::fs::metadata(path) {
            Ok(m) if !m.is_file() => {
                return Err(StorageError::Io {
                    path: shown.clone(),
                    message: "not a regular file".into(),
                })
            }
            Ok(m) => m.len() > 0,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => false,
            Err(e) => return Err(io_err(e)),
        };
        if has_content {
            // Look at the bytes before SQLite does anything with the file.
            let mut header = [0u8; 16];
            let mut file = std::fs::File::open(path).map_err(io_err)?;
            let n = read_up_to(&mut file, &mut header).map_err(io_err)?;
            if n < header.len() || &header != SQLITE_HEADER {
                return Err(StorageError::NotADatabase { path: shown });
            }
        } else if !options.create {
            return Err(StorageError::NotFound { path: shown });
        }
        // Owner-only before SQLite opens the file: SQLite creates `-wal` and `-shm` with
        // the mode of the database file, so they are owner-only too.
        restrict_store_files(path, !has_content).map_err(io_err)?;

        let mut flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        if !has_content {
            flags |= OpenFlags::SQLITE_OPEN_CREATE;
        }
        let conn = Connection::open_with_flags(path, flags).map_err(|e| open_error(e, &shown))?;
        conn.busy_timeout(options.busy_timeout)?;

        // Recognise the file with plain reads first: nothing is locked or written
        // for a file that turns out not to be ours.
        if inspect(&conn, &shown)? == Schema::Empty {
            // Create the schema under the write lock, looking again in case another
            // process created the store meanwhile. An existing store is opened
            // without the lock, so opening never waits for another process's
            // operation.
            conn.execute_batch("BEGIN IMMEDIATE")?;
            let created = inspect(&conn, &shown).and_then(|state| match state {
                Schema::Empty => create_schema(&conn),
                Schema::Ours(_) => Ok(()),
            });
            match created {
                Ok(()) => conn.execute_batch("COMMIT")?,
                Err(e) => {
                    let _ = conn.execute_batch("ROLLBACK");
                    return Err(e);
                }
            }
        }
        // Schema::Ours(v) with v < SCHEMA_VERSION would be migrated here.

        // Only now that the file is ours: WAL (readers never block the writer and a
        // crash never corrupts the file), fsync at checkpoints only, and overwrite
        // deleted secrets. Where WAL is impossible (some network file systems) SQLite
        // keeps its rollback journal, which is crash safe too.
        let _mode: String = conn.query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "secure_delete", "ON")?;
        let data_version: i64 = conn.pragma_query_value(None, "data_version", |r| r.get(0))?;
        // Again, for companions another process created meanwhile.
        restrict_store_files(path, false).map_err(io_err)?;

        Ok(Self::with_backend(Box::new(Db {
            conn,
            path: path.to_path_buf(),
            data_version,
        })))
    }

    /// A store over an open database connection (see [`Backend`]).
    pub(crate) fn with_backend(backend: Box<dyn Backend>) -> Self {
        Self {
            inner: Arc::new(Mutex::new(Inner {
                entries: HashMap::new(),
                frames: Vec::new(),
                db: Some(backend),
            })),
            ns: Vec::new(),
        }
    }

    /// The path of the SQLite file, or `None` for an in-memory or PostgreSQL store.
    pub fn path(&self) -> Option<PathBuf> {
        self.lock()
            .ok()
            .and_then(|inner| inner.db.as_ref().and_then(|db| db.file()))
    }

    /// Where the store lives (a file path, or a PostgreSQL URL without its
    /// password), or `None` in memory.
    pub fn location(&self) -> Option<String> {
        self.lock()
            .ok()
            .and_then(|inner| inner.db.as_ref().map(|db| db.location()))
    }

    /// Open a transaction (nested if one is open).
    ///
    /// Returns `true` when the outermost `begin` found that another connection had
    /// changed the file since this one last looked: the cache was dropped, and
    /// anything built from the store before (an `MlsGroup`) must be loaded again.
    /// With SQLite, the outermost `begin` takes the file's write lock and holds it
    /// until [`Self::commit`] or [`Self::rollback`]; it fails with
    /// [`StorageError::Locked`] when the lock cannot be had within the busy timeout.
    pub fn begin(&self) -> Result<bool> {
        let mut inner = self.lock()?;
        if inner.frames.is_empty() {
            inner.begin_outer()
        } else {
            inner.frames.push(Undo::new());
            Ok(false)
        }
    }

    /// Commit the innermost transaction. The outermost commit writes every changed
    /// key to the file in one SQLite transaction; if that fails, the transaction is
    /// rolled back (memory and file stay as they were before `begin`) and the error
    /// is returned. A nested commit folds its changes into the enclosing transaction.
    ///
    /// Errors: [`StorageError::NoTransaction`], or the SQLite error.
    pub fn commit(&self) -> Result<()> {
        let mut inner = self.lock()?;
        match inner.frames.len() {
            0 => Err(StorageError::NoTransaction),
            1 => inner.commit_outer(),
            _ => {
                inner.merge_top();
                Ok(())
            }
        }
    }

    /// Roll the innermost transaction back: every key it wrote or deleted gets its
    /// previous state again. Without an open transaction this does nothing.
    ///
    /// The in-memory state is always restored; an error means only that SQLite's
    /// `ROLLBACK` failed (then the cache is dropped so the next reads go to the file).
    pub fn rollback(&self) -> Result<()> {
        let mut inner = self.lock()?;
        match inner.frames.len() {
            0 => Ok(()),
            1 => inner.rollback_outer(),
            _ => {
                inner.undo_top();
                Ok(())
            }
        }
    }

    /// Whether the open transactions have written or deleted anything yet.
    pub fn has_changes(&self) -> Result<bool> {
        Ok(self.lock()?.frames.iter().any(|f| !f.is_empty()))
    }

    /// How many transactions are open (0 when none, 2 or more when nested).
    pub fn transaction_depth(&self) -> Result<usize> {
        Ok(self.lock()?.frames.len())
    }

    /// Run `f` in a transaction: commit if it returns `Ok`, roll back if it returns
    /// `Err`. `f` gets `begin`'s answer (whether cached state is stale).
    pub fn transaction<T, E: From<StorageError>>(
        &self,
        f: impl FnOnce(bool) -> std::result::Result<T, E>,
    ) -> std::result::Result<T, E> {
        let invalidated = self.begin()?;
        match f(invalidated) {
            Ok(value) => {
                self.commit()?;
                Ok(value)
            }
            Err(e) => {
                // The operation's error is the one to report.
                let _ = self.rollback();
                Err(e)
            }
        }
    }

    /// Store an application record (identities, the group list, ...).
    pub fn put_app(&self, key: &[u8], value: &[u8]) -> Result<()> {
        self.set_one(self.ns_key(app_key(key)), Some(value.to_vec()))
    }

    /// Read an application record.
    pub fn get_app(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        let k = self.ns_key(app_key(key));
        let mut inner = self.lock()?;
        Ok(inner.get(&k)?.map(<[u8]>::to_vec))
    }

    /// Delete an application record (absent is fine).
    pub fn delete_app(&self, key: &[u8]) -> Result<()> {
        self.set_one(self.ns_key(app_key(key)), None)
    }

    /// Every application record whose key starts with `prefix`, sorted by key.
    pub fn list_app(&self, prefix: &[u8]) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        let p = self.ns_key(app_key(prefix));
        let mut inner = self.lock()?;
        let found = inner.scan(&p)?;
        Ok(found
            .into_iter()
            .map(|(k, v)| (k[self.ns.len() + APP_PREFIX.len()..].to_vec(), v))
            .collect())
    }

    /// Delete every application record whose key starts with `prefix`; returns how
    /// many there were.
    pub fn delete_app_prefix(&self, prefix: &[u8]) -> Result<usize> {
        let p = self.ns_key(app_key(prefix));
        self.atomic(|inner| inner.delete_prefix(&p))
    }

    /// Delete every record OpenMLS keeps under `group_id`: the group state, its
    /// secrets, the proposal queue, and the epoch key pairs of every epoch and leaf.
    /// `MlsGroup::delete` deletes most of this through the trait; this also catches
    /// epoch key pairs of older epochs and anything a failed deletion left behind.
    pub fn delete_group<GroupId: traits::GroupId<CURRENT_VERSION>>(
        &self,
        group_id: &GroupId,
    ) -> Result<()> {
        let group_json = serde_json::to_vec(group_id)?;
        self.atomic(|inner| {
            for label in GROUP_LABELS {
                inner.set(self.ns_key(mls_key_raw(label, &group_json)), None);
            }
            for label in GROUP_TUPLE_LABELS {
                let mut prefix = self.ns_key(label_prefix(label));
                prefix.push(b'[');
                prefix.extend_from_slice(&group_json);
                prefix.push(b',');
                inner.delete_prefix(&prefix)?;
            }
            Ok(())
        })
    }

    /// A view of the same store whose keys live in the archive `name`: the same
    /// database, transactions and lock, and a key space of its own, so that a group
    /// moved there ([`Self::move_group`]) is kept, read and written under its own
    /// group id beside a new group of that id in the store itself. Archive keys are
    /// `"arc:" ‖ hex(name) ‖ ":"` followed by an ordinary key, so they collide neither
    /// with the store's (`mls:`, `app:`) nor with another archive's.
    pub fn archive(&self, name: &[u8]) -> KvStorage {
        let mut ns = Vec::with_capacity(ARCHIVE_PREFIX.len() + 2 * name.len() + 1);
        ns.extend_from_slice(ARCHIVE_PREFIX);
        for b in name {
            ns.extend_from_slice(format!("{b:02x}").as_bytes());
        }
        ns.push(b':');
        KvStorage {
            inner: Arc::clone(&self.inner),
            ns,
        }
    }

    /// Move every record OpenMLS keeps under `group_id` (as [`Self::delete_group`]
    /// lists them), and the application records `app_keys`, from this view to `to`,
    /// a view of the same store: one atomic change, in the caller's transaction if one
    /// is open. Records already in `to` under those keys are overwritten.
    pub fn move_group<GroupId: traits::GroupId<CURRENT_VERSION>>(
        &self,
        group_id: &GroupId,
        app_keys: &[&[u8]],
        to: &KvStorage,
    ) -> Result<()> {
        if !Arc::ptr_eq(&self.inner, &to.inner) {
            return Err(StorageError::Corrupt(
                "a group can move only between views of one store".into(),
            ));
        }
        let group_json = serde_json::to_vec(group_id)?;
        let mut keys: Vec<Vec<u8>> = GROUP_LABELS
            .iter()
            .map(|label| mls_key_raw(label, &group_json))
            .collect();
        keys.extend(app_keys.iter().map(|k| app_key(k)));
        self.atomic(|inner| {
            for label in GROUP_TUPLE_LABELS {
                let mut prefix = self.ns_key(label_prefix(label));
                prefix.push(b'[');
                prefix.extend_from_slice(&group_json);
                prefix.push(b',');
                for key in inner.scan(&prefix)?.into_keys() {
                    keys.push(key[self.ns.len()..].to_vec());
                }
            }
            for key in keys {
                let from = self.ns_key(key.clone());
                let value = inner.get(&from)?.map(<[u8]>::to_vec);
                inner.set(to.ns_key(key), value);
                inner.set(from, None);
            }
            Ok(())
        })
    }

    /// The store itself, seen from any of its views.
    pub fn home(&self) -> KvStorage {
        KvStorage {
            inner: Arc::clone(&self.inner),
            ns: Vec::new(),
        }
    }

    /// `key` in this view's namespace.
    fn ns_key(&self, key: Vec<u8>) -> Vec<u8> {
        if self.ns.is_empty() {
            key
        } else {
            [self.ns.as_slice(), key.as_slice()].concat()
        }
    }

    /// The store's state. A panic that poisoned the lock is recovered from: the caller
    /// that panicked rolls its transaction back (see `Provider::atomic_keep`).
    fn lock(&self) -> Result<MutexGuard<'_, Inner>> {
        Ok(self.inner.lock().unwrap_or_else(|poisoned| {
            self.inner.clear_poison();
            poisoned.into_inner()
        }))
    }

    /// Set (`Some`) or delete (`None`) one key: inside a transaction it joins it,
    /// outside it is a transaction of its own.
    fn set_one(&self, key: Vec<u8>, value: Option<Vec<u8>>) -> Result<()> {
        let mut inner = self.lock()?;
        if inner.frames.is_empty() {
            inner.begin_outer()?;
            inner.set(key, value);
            inner.commit_outer()
        } else {
            // A single set cannot fail halfway: no frame of its own is needed.
            inner.set(key, value);
            Ok(())
        }
    }

    /// Run a change atomically: in a nested frame inside an open transaction, else in
    /// a transaction of its own.
    fn atomic<T>(&self, f: impl FnOnce(&mut Inner) -> Result<T>) -> Result<T> {
        let mut inner = self.lock()?;
        if inner.frames.is_empty() {
            inner.begin_outer()?;
            match f(&mut inner) {
                Ok(value) => {
                    inner.commit_outer()?;
                    Ok(value)
                }
                Err(e) => {
                    let _ = inner.rollback_outer();
                    Err(e)
                }
            }
        } else {
            inner.frames.push(Undo::new());
            match f(&mut inner) {
                Ok(value) => {
                    inner.merge_top();
                    Ok(value)
                }
                Err(e) => {
                    inner.undo_top();
                    Err(e)
                }
            }
        }
    }

    fn write_entity<K: Serialize + ?Sized, V: Serialize + ?Sized>(
        &self,
        label: &str,
        key: &K,
        value: &V,
    ) -> Result<()> {
        let k = self.ns_key(mls_key(label, key)?);
        let v = to_json(value)?;
        self.set_one(k, Some(v))
    }

    fn read_entity<K: Serialize + ?Sized, V: DeserializeOwned>(
        &self,
        label: &str,
        key: &K,
    ) -> Result<Option<V>> {
        let k = self.ns_key(mls_key(label, key)?);
        let mut inner = self.lock()?;
        match inner.get(&k)? {
            Some(bytes) => Ok(Some(serde_json::from_slice(bytes)?)),
            None => Ok(None),
        }
    }

    fn delete_entity<K: Serialize + ?Sized>(&self, label: &str, key: &K) -> Result<()> {
        self.set_one(self.ns_key(mls_key(label, key)?), None)
    }

    fn read_list<K: Serialize + ?Sized, V: DeserializeOwned>(
        &self,
        label: &str,
        key: &K,
    ) -> Result<Vec<V>> {
        let k = self.ns_key(mls_key(label, key)?);
        let mut inner = self.lock()?;
        match inner.get(&k)? {
            Some(bytes) => Ok(serde_json::from_slice(bytes)?),
            None => Ok(Vec::new()),
        }
    }

    fn append_to_list<K: Serialize + ?Sized, V: Serialize + ?Sized>(
        &self,
        label: &str,
        key: &K,
        item: &V,
    ) -> Result<()> {
        let k = self.ns_key(mls_key(label, key)?);
        let item = serde_json::to_value(item)?;
        self.atomic(|inner| {
            let mut list = inner.get_json_list(&k)?;
            list.push(item);
            inner.set(k, Some(to_json(&list)?));
            Ok(())
        })
    }
}

impl Inner {
    /// The current value of `key`, reading it from the file on a cache miss.
    fn get(&mut self, key: &[u8]) -> Result<Option<&[u8]>> {
        if !self.entries.contains_key(key) {
            let Some(db) = &mut self.db else {
                return Ok(None);
            };
            let row = db.get(key)?;
            self.entries.insert(key.to_vec(), row.map(Zeroizing::new));
        }
        Ok(self
            .entries
            .get(key)
            .and_then(|v| v.as_ref().map(|v| v.as_slice())))
    }

    fn get_json_list(&mut self, key: &[u8]) -> Result<Vec<serde_json::Value>> {
        match self.get(key)? {
            Some(bytes) => Ok(serde_json::from_slice(bytes)?),
            None => Ok(Vec::new()),
        }
    }

    /// Set (`Some`) or delete (`None`) `key`, recording its previous state in the
    /// innermost undo frame the first time the frame touches it.
    fn set(&mut self, key: Vec<u8>, value: Option<Vec<u8>>) {
        if let Some(frame) = self.frames.last_mut() {
            if !frame.contains_key(&key) {
                frame.insert(key.clone(), self.entries.get(&key).cloned());
            }
        }
        // The value replaced, if any, is wiped as it drops.
        self.entries.insert(key, value.map(Zeroizing::new));
    }

    /// Every present record whose key starts with `prefix`, with its value, sorted.
    fn scan(&mut self, prefix: &[u8]) -> Result<BTreeMap<Vec<u8>, Vec<u8>>> {
        if let Some(db) = &mut self.db {
            // Load the rows the cache does not know yet; cached entries (including
            // uncommitted changes and deletions) take precedence over the file.
            let end = prefix_successor(prefix);
            let rows = db.range(prefix, end.as_deref())?;
            for (k, v) in rows {
                self.entries.entry(k).or_insert(Some(Zeroizing::new(v)));
            }
        }
        Ok(self
            .entries
            .iter()
            .filter(|(k, _)| k.starts_with(prefix))
            .filter_map(|(k, v)| v.as_ref().map(|v| (k.clone(), v.to_vec())))
            .collect())
    }

    fn delete_prefix(&mut self, prefix: &[u8]) -> Result<usize> {
        let keys: Vec<Vec<u8>> = self.scan(prefix)?.into_keys().collect();
        let n = keys.len();
        for k in keys {
            self.set(k, None);
        }
        Ok(n)
    }

    /// Open the outermost transaction: take the file's write lock and drop the cache
    /// if another connection committed since we last looked.
    fn begin_outer(&mut self) -> Result<bool> {
        let mut invalidated = false;
        if let Some(db) = &mut self.db {
            invalidated = db.begin()?;
            if invalidated || self.entries.len() > CACHE_MAX_ENTRIES {
                // No transaction is open, so every cached entry is also in the file.
                self.entries.clear();
            }
        }
        self.frames.push(Undo::new());
        Ok(invalidated)
    }

    fn commit_outer(&mut self) -> Result<()> {
        let Some(frame) = self.frames.pop() else {
            return Err(StorageError::NoTransaction);
        };
        match &mut self.db {
            None => {
                // Deletions need no tombstones in a store that is all in memory.
                for key in frame.keys() {
                    if matches!(self.entries.get(key), Some(None)) {
                        self.entries.remove(key);
                    }
                }
                Ok(())
            }
            Some(db) => {
                let changes: Vec<(&[u8], Option<&[u8]>)> = frame
                    .keys()
                    .map(|k| {
                        let value = self
                            .entries
                            .get(k)
                            .and_then(|v| v.as_ref().map(|z| z.as_slice()));
                        (k.as_slice(), value)
                    })
                    .collect();
                match db.commit(&changes) {
                    Ok(()) => Ok(()),
                    Err(e) => {
                        restore(&mut self.entries, frame);
                        Err(e)
                    }
                }
            }
        }
    }

    fn rollback_outer(&mut self) -> Result<()> {
        let Some(frame) = self.frames.pop() else {
            return Ok(());
        };
        restore(&mut self.entries, frame);
        if let Some(db) = &mut self.db {
            if let Err(e) = db.rollback() {
                self.entries.clear();
                return Err(e);
            }
        }
        Ok(())
    }

    /// Fold the innermost frame into its parent; the parent keeps the older state.
    fn merge_top(&mut self) {
        if let Some(child) = self.frames.pop() {
            if let Some(parent) = self.frames.last_mut() {
                for (key, previous) in child {
                    parent.entry(key).or_insert(previous);
                }
            }
        }
    }

    fn undo_top(&mut self) {
        if let Some(frame) = self.frames.pop() {
            restore(&mut self.entries, frame);
        }
    }
}

/// Write `changes` (`None` deletes), then COMMIT.
fn flush(conn: &Connection, changes: &[(&[u8], Option<&[u8]>)]) -> Result<()> {
    {
        let mut upsert = conn.prepare_cached(
            "INSERT INTO kv (key, value) VALUES (?1, ?2) \
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        )?;
        let mut delete = conn.prepare_cached("DELETE FROM kv WHERE key = ?1")?;
        for (key, value) in changes {
            match value {
                Some(value) => upsert.execute(params![key, value])?,
                None => delete.execute(params![key])?,
            };
        }
    }
    conn.execute_batch("COMMIT")?;
    Ok(())
}

fn restore(entries: &mut HashMap<Vec<u8>, Option<Value>>, frame: Undo) {
    for (key, previous) in frame {
        match previous {
            Some(entry) => {
                entries.insert(key, entry);
            }
            None => {
                entries.remove(&key);
            }
        }
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Schema {
    /// No schema objects at all: safe to initialise.
    Empty,
    /// Our store, at this schema version.
    Ours(i64),
}

/// Recognise the database without changing it.
fn inspect(conn: &Connection, path: &str) -> Result<Schema> {
    let count = |sql: &str| -> Result<i64> {
        conn.query_row(sql, [], |r| r.get(0))
            .map_err(|e| open_error(e, path))
    };
    let objects = count("SELECT count(*) FROM sqlite_master")?;
    if objects == 0 {
        return Ok(Schema::Empty);
    }
    let foreign = || StorageError::ForeignDatabase {
        path: path.to_owned(),
    };
    if count("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'meta'")? == 0 {
        return Err(foreign());
    }
    // Another application's `meta` table may have other columns: that is foreign too.
    let row: Option<(String, i64)> = conn
        .query_row(
            "SELECT application, schema_version FROM meta WHERE id = 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()
        .map_err(|_| foreign())?;
    let Some((application, version)) = row else {
        return Err(foreign());
    };
    if application != APPLICATION {
        return Err(foreign());
    }
    if version > SCHEMA_VERSION {
        return Err(StorageError::NewerSchema {
            path: path.to_owned(),
            found: version,
            supported: SCHEMA_VERSION,
        });
    }
    if version < 1 {
        return Err(StorageError::Corrupt(format!(
            "{path}: invalid schema version {version}"
        )));
    }
    if count("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'kv'")? == 0 {
        return Err(StorageError::Corrupt(format!(
            "{path}: the kv table is missing"
        )));
    }
    Ok(Schema::Ours(version))
}

fn create_schema(conn: &Connection) -> Result<()> {
    conn.execute_batch(
        "CREATE TABLE meta (
             id INTEGER PRIMARY KEY CHECK (id = 1),
             application TEXT NOT NULL,
             schema_version INTEGER NOT NULL
         );
         CREATE TABLE kv (
             key BLOB PRIMARY KEY,
             value BLOB NOT NULL
         ) WITHOUT ROWID;",
    )?;
    conn.execute(
        "INSERT INTO meta (id, application, schema_version) VALUES (1, ?1, ?2)",
        params![APPLICATION, SCHEMA_VERSION],
    )?;
    conn.pragma_update(None, "application_id", SQLITE_APPLICATION_ID)?;
    Ok(())
}

/// Map an error met while opening or recognising a file.
fn open_error(e: rusqlite::Error, path: &str) -> StorageError {
    match e.sqlite_error_code() {
        Some(ErrorCode::NotADatabase) => StorageError::NotADatabase {
            path: path.to_owned(),
        },
        Some(ErrorCode::CannotOpen | ErrorCode::PermissionDenied) => StorageError::Io {
            path: path.to_owned(),
            message: e.to_string(),
        },
        _ => e.into(),
    }
}

/// Make the store file at `path` and its SQLite companions (`-wal`, `-shm`,
/// `-journal`) readable and writable by their owner only, whatever the umask; with
/// `create`, create the store file (empty, owner-only) if it does not exist.
#[cfg(unix)]
fn restrict_store_files(path: &Path, create: bool) -> std::io::Result<()> {
    use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
    if create {
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
        {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e),
        }
    }
    let restrict = |p: &Path| -> std::io::Result<()> {
        match std::fs::metadata(p) {
            Ok(m) if m.permissions().mode() & 0o777 != 0o600 => {
                std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o600))
            }
            Ok(_) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && p != path => Ok(()),
            Err(e) => Err(e),
        }
    };
    restrict(path)?;
    for suffix in ["-wal", "-shm", "-journal"] {
        let mut companion = path.as_os_str().to_owned();
        companion.push(suffix);
        restrict(Path::new(&companion))?;
    }
    Ok(())
}

#[cfg(not(unix))]
fn restrict_store_files(_path: &Path, _create: bool) -> std::io::Result<()> {
    Ok(())
}

fn read_up_to(file: &mut std::fs::File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match file.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// A writer whose buffer, when it must grow, wipes the buffer it leaves.
struct WipingWriter(Value);

impl std::io::Write for WipingWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let needed = self.0.len().saturating_add(buf.len());
        if needed > self.0.capacity() {
            let capacity = needed.max(self.0.capacity().saturating_mul(2)).max(256);
            let mut bigger = Zeroizing::new(Vec::with_capacity(capacity));
            bigger.extend_from_slice(&self.0);
            // The old buffer is wiped as it drops.
            self.0 = bigger;
        }
        self.0.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The JSON of an entity (which may hold secrets) without stray copies left in freed
/// memory while it is written.
fn to_json<V: Serialize + ?Sized>(value: &V) -> Result<Vec<u8>> {
    let mut w = WipingWriter(Zeroizing::new(Vec::new()));
    serde_json::to_writer(&mut w, value)?;
    // Moved out (no copy); the store wraps it again.
    Ok(std::mem::take(&mut *w.0))
}

/// The smallest byte string greater than every string starting with `prefix`, or
/// `None` if there is none (the prefix is all 0xff).
fn prefix_successor(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < u8::MAX {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}

fn app_key(key: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(APP_PREFIX.len() + key.len());
    k.extend_from_slice(APP_PREFIX);
    k.extend_from_slice(key);
    k
}

fn label_prefix(label: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(MLS_PREFIX.len() + label.len() + 1);
    k.extend_from_slice(MLS_PREFIX);
    k.extend_from_slice(label.as_bytes());
    k.push(b':');
    k
}

fn mls_key_raw(label: &str, key_json: &[u8]) -> Vec<u8> {
    let mut k = label_prefix(label);
    k.extend_from_slice(key_json);
    k.extend_from_slice(&CURRENT_VERSION.to_be_bytes());
    k
}

fn mls_key<K: Serialize + ?Sized>(label: &str, key: &K) -> Result<Vec<u8>> {
    Ok(mls_key_raw(label, &serde_json::to_vec(key)?))
}

impl StorageProvider<CURRENT_VERSION> for KvStorage {
    type Error = StorageError;

    fn write_mls_join_config<
        GroupId: traits::GroupId<CURRENT_VERSION>,
        MlsGroupJoinConfig: traits::MlsGroupJoinConfig<CURRENT_VERSION>,
    >(
        &self,
        group_id: &GroupId,
        config: &MlsGroupJoinConfig,
    ) -> Result<()> {
        self.write_entity(JOIN_CONFIG, group_id, config)
    }

    fn append_own_leaf_node<
        GroupId: traits::GroupId<CURRENT_VERSION>,
        LeafNode: traits::LeafNode<CURRENT_VERSION>,
    >(
        &self,
        group_id: &GroupId,
        leaf_node: &LeafNode,
    ) -> Result<()> {
        self.append_to_list(OWN_LEAF_NODES, group_id, leaf_node)
    }

    fn queue_proposal<
        GroupId: traits::GroupId<CURRENT_VERSION>,
        ProposalRef: traits::ProposalRef<CURRENT_VERSION>,
        QueuedProposal: traits::QueuedProposal<CURRENT_VERSION>,
    >(
        &self,
        group_id: &GroupId,
        proposal_ref: &ProposalRef,
        proposal: &QueuedProposal,
    ) -> Result<()> {
        // The proposal under (group, ref), and the ref appended to the group's queue,
        // as one change.
        let proposal_key = self.ns_key(mls_key(QUEUED_PROPOSAL, &(group_id, proposal_ref))?);
        let proposal_value = serde_json::to_vec(proposal)?;
        let queue_key = self.ns_key(mls_key(PROPOSAL_QUEUE_REFS, group_id)?);
        let item = serde_json::to_value(proposal_ref)?;
        self.atomic(|inner| {
            inner.set(proposal_key, Some(proposal_value));
            let mut refs = inner.get_json_list(&queue_key)?;
            refs.push(item);
            inner.set(queue_key, Some(serde_json::to_vec(&refs)?));
            Ok(())
        })
    }

    fn write_tree<
        GroupId: traits::GroupId<CURRENT_VERSION>,
        TreeSync: traits::TreeSync<CURRENT_VERSION>,
    >(
        &self,
        group_id: &GroupId,
        tree: &TreeSync,
    ) -> Result<()> {
        self.write_entity(TREE, group_id, tree)
    }

    fn write_interim_transcript_hash<
        GroupId: traits::GroupId<CURRENT_VERSION>,
        InterimTranscriptHash: traits::InterimTranscriptHash<CURRENT_VERSION>,
    >(
        &self,
        group_id: &GroupId,
        interim_transcript_hash: &InterimTranscriptHash,
    ) -> Result<()> {
        self.write_entity(INTERIM_TRANSCRIPT_HASH, group_id, interim_transcript_hash)
    }

    fn write_context<
        GroupId: traits::GroupId<CURRENT_VERSION>,
        GroupContext: traits::GroupContext<CURRENT_VERSION>,
    >(
        &self,
        group_id: &GroupId,
        group_context: &GroupContext,
    ) -> Result<()> {
        self.write_entity(GROUP_CONTEXT, group_id, group_context)
    }

    fn write_confirmation_tag<
        GroupId: traits::GroupId<CURRENT_VERSION>,
        ConfirmationTag: traits::ConfirmationTag<CURRENT_VERSION>,
    >(
        &self,
        group_id: &GroupId,
        confirmation_tag: &ConfirmationTag,
    ) -> Result<()> {
        self.write_entity(CONFIRMATION_TAG, group_id, confirmation_tag)
    }

    fn write_group_state<
        GroupState: traits::GroupState<CURRENT_VERSION>,
        GroupId: traits::GroupId<CURRENT_VERSION>,
    >(
        &self,
        group_id: &GroupId,
        group_state: &GroupState,
    ) -> Result<()> {
        self.write_entity(GROUP_STATE, group_id, group_state)
    }

    fn write_message_secrets<
        GroupId: traits::GroupId<CURRENT_VERSION>,
        MessageSecrets: traits::MessageSecrets<CURRENT_VERSION>,
    >(
        &self,
        group_id: &GroupId,
        message_secrets: &MessageSecrets,
    ) -> Result<()> {
        self.write_entity(MESSAGE_SECRETS, group_id, message_secrets)
    }

    fn write_resumption_psk_store<
        GroupId: traits::GroupId<CURRENT_VERSION>,
        ResumptionPskStore: traits::ResumptionPskStore<CURRENT_VERSION>,
    >(
        &self,
        group_id: &GroupId,
        resumption_psk_store: &ResumptionPskStore,
    ) -> Result<()> {
        self.write_entity(RESUMPTION_PSK_STORE, group_id, resumption_psk_store)
    }

    fn write_own_leaf_index<
        GroupId: traits::GroupId<CURRENT_VERSION>,
        LeafNodeIndex: traits::LeafNodeIndex<CURRENT_VERSION>,
    >(
        &self,
        group_id: &GroupId,
        own_leaf_index: &LeafNodeIndex,
    ) -> Result<()> {
        self.write_entity(OWN_LEAF_NODE_INDEX, group_id, own_leaf_index)
    }

    fn write_group_epoch_secrets<
        GroupId: traits::GroupId<CURRENT_VERSION>,
        GroupEpochSecrets: traits::GroupEpochSecrets<CURRENT_VERSION>,
    >(
        &self,
        group_id: &GroupId,
        group_epoch_secrets: &GroupEpochSecrets,
    ) -> Result<()> {
        self.write_entity(EPOCH_SECRETS, group_id, group_epoch_secrets)
    }

    fn write_signature_key_pair<
        SignaturePublicKey: traits::SignaturePublicKey<CURRENT_VERSION>,
        SignatureKeyPair: traits::SignatureKeyPair<CURRENT_VERSION>,
    >(
        &self,
        public_key: &SignaturePublicKey,
        signature_key_pair: &SignatureKeyPair,
    ) -> Result<()> {
        self.write_entity(SIGNATURE_KEY_PAIR, public_key, signature_key_pair)
    }

    fn write_encryption_key_pair<
        EncryptionKey: traits::EncryptionKey<CURRENT_VERSION>,
        HpkeKeyPair: traits::HpkeKeyPair<CURRENT_VERSION>,
    >(
        &self,
        public_key: &EncryptionKey,
        key_pair: &HpkeKeyPair,
    ) -> Result<()> {
        self.write_entity(ENCRYPTION_KEY_PAIR, public_key, key_pair)
    }

    fn write_encryption_epoch_key_pairs<
        GroupId: traits::GroupId<CURRENT_VERSION>,
        EpochKey: traits::EpochKey<CURRENT_VERSION>,
        HpkeKeyPair: traits::HpkeKeyPair<CURRENT_VERSION>,
    >(
        &self,
        group_id: &GroupId,
        epoch: &EpochKey,
        leaf_index: u32,
        key_pairs: &[HpkeKeyPair],
    ) -> Result<()> {
        self.write_entity(EPOCH_KEY_PAIRS, &(group_id, epoch, leaf_index), key_pairs)
    }

    fn write_key_package<
        HashReference: traits::HashReference<CURRENT_VERSION>,
        KeyPackage: traits::KeyPackage<CURRENT_VERSION>,
    >(
        &self,
        hash_ref: &HashReference,
        key_package: &KeyPackage,
    ) -> Result<()> {
        self.write_entity(KEY_PACKAGE, hash_ref, key_package)
    }

    fn write_psk<
        PskId: traits::PskId<CURRENT_VERSION>,
        PskBundle: traits::PskBundle<CURRENT_VERSION>,
    >(
        &self,
        psk_id: &PskId,
        psk: &PskBundle,
    ) -> Result<()> {
        self.write_entity(PSK, psk_id, psk)
    }

    fn mls_group_join_config<
        GroupId: traits::GroupId<CURRENT_VERSION>,
        MlsGroupJoinConfig: traits::MlsGroupJoinConfig<CURRENT_VERSION>,
    >(
        &self,
        group_id: &GroupId,
    ) -> Result<Option<MlsGroupJoinConfig>> {
        self.read_entity(JOIN_CONFIG, group_id)
    }

    fn own_leaf_nodes<
        GroupId: traits::GroupId<CURRENT_VERSION>,
        LeafNode: traits::LeafNode<CURRENT_VERSION>,
    >(
        &self,
        group_id: &GroupId,
    ) -> Result<Vec<LeafNode>> {
        self.read_list(OWN_LEAF_NODES, group_id)
    }

    fn queued_proposal_refs<
        GroupId: traits::GroupId<CURRENT_VERSION>,
        ProposalRef: traits::ProposalRef<CURRENT_VERSION>,
    >(
        &self,
        group_id: &GroupId,
    ) -> Result<Vec<ProposalRef>> {
        self.read_list(PROPOSAL_QUEUE_REFS, group_id)
    }

    fn queued_proposals<
        GroupId: traits::GroupId<CURRENT_VERSION>,
        ProposalRef: traits::ProposalRef<CURRENT_VERSION>,
        QueuedProposal: traits::QueuedProposal<CURRENT_VERSION>,
    >(
        &self,
        group_id: &GroupId,
    ) -> Result<Vec<(ProposalRef, QueuedProposal)>> {
        let refs: Vec<ProposalRef> = self.read_list(PROPOSAL_QUEUE_REFS, group_id)?;
        let mut out = Vec::with_capacity(refs.len());
        for proposal_ref in refs {
            let proposal = self
                .read_entity(QUEUED_PROPOSAL, &(group_id, &proposal_ref))?
                .ok_or_else(|| {
                    StorageError::Corrupt("a queued proposal reference has no proposal".into())
                })?;
            out.push((proposal_ref, proposal));
        }
        Ok(out)
    }

    fn tree<
        GroupId: traits::GroupId<CURRENT_VERSION>,
        TreeSync: traits::TreeSync<CURRENT_VERSION>,
    >(
        &self,
        group_id: &GroupId,
    ) -> Result<Option<TreeSync>> {
        self.read_entity(TREE, group_id)
    }

    fn group_context<
        GroupId: traits::GroupId<CURRENT_VERSION>,
        GroupContext: traits::GroupContext<CURRENT_VERSION>,
    >(
        &self,
        group_id: &GroupId,
    ) -> Result<Option<GroupContext>> {
        self.read_entity(GROUP_CONTEXT, group_id)
    }

    fn interim_transcript_hash<
        GroupId: traits::GroupId<CURRENT_VERSION>,
        InterimTranscriptHash: traits::InterimTranscriptHash<CURRENT_VERSION>,
    >(
        &self,
        group_id: &GroupId,
    ) -> Result<Option<InterimTranscriptHash>> {
        self.read_entity(INTERIM_TRANSCRIPT_HASH, group_id)
    }

    fn confirmation_tag<
        GroupId: traits::GroupId<CURRENT_VERSION>,
        ConfirmationTag: traits::ConfirmationTag<CURRENT_VERSION>,
    >(
        &self,
        group_id: &GroupId,
    ) -> Result<Option<ConfirmationTag>> {
        self.read_entity(CONFIRMATION_TAG, group_id)
    }

    fn group_state<
        GroupState: traits::GroupState<CURRENT_VERSION>,
        GroupId: traits::GroupId<CURRENT_VERSION>,
    >(
        &self,
        group_id: &GroupId,
    ) -> Result<Option<GroupState>> {
        self.read_entity(GROUP_STATE, group_id)
    }

    fn message_secrets<
        GroupId: traits::GroupId<CURRENT_VERSION>,
        MessageSecrets: traits::MessageSecrets<CURRENT_VERSION>,
    >(
        &self,
        group_id: &GroupId,
    ) -> Result<Option<MessageSecrets>> {
        self.read_entity(MESSAGE_SECRETS, group_id)
    }

    fn resumption_psk_store<
        GroupId: traits::GroupId<CURRENT_VERSION>,
        ResumptionPskStore: traits::ResumptionPskStore<CURRENT_VERSION>,
    >(
        &self,
        group_id: &GroupId,
    ) -> Result<Option<ResumptionPskStore>> {
        self.read_entity(RESUMPTION_PSK_STORE, group_id)
    }

    fn own_leaf_index<
        GroupId: traits::GroupId<CURRENT_VERSION>,
        LeafNodeIndex: traits::LeafNodeIndex<CURRENT_VERSION>,
    >(
        &self,
        group_id: &GroupId,
    ) -> Result<Option<LeafNodeIndex>> {
        self.read_entity(OWN_LEAF_NODE_INDEX, group_id)
    }

    fn group_epoch_secrets<
        GroupId: traits::GroupId<CURRENT_VERSION>,
        GroupEpochSecrets: traits::GroupEpochSecrets<CURRENT_VERSION>,
    >(
        &self,
        group_id: &GroupId,
    ) -> Result<Option<GroupEpochSecrets>> {
        self.read_entity(EPOCH_SECRETS, group_id)
    }

    fn signature_key_pair<
        SignaturePublicKey: traits::SignaturePublicKey<CURRENT_VERSION>,
        SignatureKeyPair: traits::SignatureKeyPair<CURRENT_VERSION>,
    >(
        &self,
        public_key: &SignaturePublicKey,
    ) -> Result<Option<SignatureKeyPair>> {
        self.read_entity(SIGNATURE_KEY_PAIR, public_key)
    }

    fn encryption_key_pair<
        HpkeKeyPair: traits::HpkeKeyPair<CURRENT_VERSION>,
        EncryptionKey: traits::EncryptionKey<CURRENT_VERSION>,
    >(
        &self,
        public_key: &EncryptionKey,
    ) -> Result<Option<HpkeKeyPair>> {
        self.read_entity(ENCRYPTION_KEY_PAIR, public_key)
    }

    fn encryption_epoch_key_pairs<
        GroupId: traits::GroupId<CURRENT_VERSION>,
        EpochKey: traits::EpochKey<CURRENT_VERSION>,
        HpkeKeyPair: traits::HpkeKeyPair<CURRENT_VERSION>,
    >(
        &self,
        group_id: &GroupId,
        epoch: &EpochKey,
        leaf_index: u32,
    ) -> Result<Vec<HpkeKeyPair>> {
        self.read_list(EPOCH_KEY_PAIRS, &(group_id, epoch, leaf_index))
    }

    fn key_package<
        KeyPackageRef: traits::HashReference<CURRENT_VERSION>,
        KeyPackage: traits::KeyPackage<CURRENT_VERSION>,
    >(
        &self,
        hash_ref: &KeyPackageRef,
    ) -> Result<Option<KeyPackage>> {
        self.read_entity(KEY_PACKAGE, hash_ref)
    }

    fn psk<PskBundle: traits::PskBundle<CURRENT_VERSION>, PskId: traits::PskId<CURRENT_VERSION>>(
        &self,
        psk_id: &PskId,
    ) -> Result<Option<PskBundle>> {
        self.read_entity(PSK, psk_id)
    }

    fn remove_proposal<
        GroupId: traits::GroupId<CURRENT_VERSION>,
        ProposalRef: traits::ProposalRef<CURRENT_VERSION>,
    >(
        &self,
        group_id: &GroupId,
        proposal_ref: &ProposalRef,
    ) -> Result<()> {
        let proposal_key = self.ns_key(mls_key(QUEUED_PROPOSAL, &(group_id, proposal_ref))?);
        let queue_key = self.ns_key(mls_key(PROPOSAL_QUEUE_REFS, group_id)?);
        let item = serde_json::to_value(proposal_ref)?;
        self.atomic(|inner| {
            let mut refs = inner.get_json_list(&queue_key)?;
            if let Some(pos) = refs.iter().position(|stored| *stored == item) {
                refs.remove(pos);
                inner.set(queue_key, Some(serde_json::to_vec(&refs)?));
            }
            inner.set(proposal_key, None);
            Ok(())
        })
    }

    fn delete_own_leaf_nodes<GroupId: traits::GroupId<CURRENT_VERSION>>(
        &self,
        group_id: &GroupId,
    ) -> Result<()> {
        self.delete_entity(OWN_LEAF_NODES, group_id)
    }

    fn delete_group_config<GroupId: traits::GroupId<CURRENT_VERSION>>(
        &self,
        group_id: &GroupId,
    ) -> Result<()> {
        self.delete_entity(JOIN_CONFIG, group_id)
    }

    fn delete_tree<GroupId: traits::GroupId<CURRENT_VERSION>>(
        &self,
        group_id: &GroupId,
    ) -> Result<()> {
        self.delete_entity(TREE, group_id)
    }

    fn delete_confirmation_tag<GroupId: traits::GroupId<CURRENT_VERSION>>(
        &self,
        group_id: &GroupId,
    ) -> Result<()> {
        self.delete_entity(CONFIRMATION_TAG, group_id)
    }

    fn delete_group_state<GroupId: traits::GroupId<CURRENT_VERSION>>(
        &self,
        group_id: &GroupId,
    ) -> Result<()> {
        self.delete_entity(GROUP_STATE, group_id)
    }

    fn delete_context<GroupId: traits::GroupId<CURRENT_VERSION>>(
        &self,
        group_id: &GroupId,
    ) -> Result<()> {
        self.delete_entity(GROUP_CONTEXT, group_id)
    }

    fn delete_interim_transcript_hash<GroupId: traits::GroupId<CURRENT_VERSION>>(
        &self,
        group_id: &GroupId,
    ) -> Result<()> {
        self.delete_entity(INTERIM_TRANSCRIPT_HASH, group_id)
    }

    fn delete_message_secrets<GroupId: traits::GroupId<CURRENT_VERSION>>(
        &self,
        group_id: &GroupId,
    ) -> Result<()> {
        self.delete_entity(MESSAGE_SECRETS, group_id)
    }

    fn delete_all_resumption_psk_secrets<GroupId: traits::GroupId<CURRENT_VERSION>>(
        &self,
        group_id: &GroupId,
    ) -> Result<()> {
        self.delete_entity(RESUMPTION_PSK_STORE, group_id)
    }

    fn delete_own_leaf_index<GroupId: traits::GroupId<CURRENT_VERSION>>(
        &self,
        group_id: &GroupId,
    ) -> Result<()> {
        self.delete_entity(OWN_LEAF_NODE_INDEX, group_id)
    }

    fn delete_group_epoch_secrets<GroupId: traits::GroupId<CURRENT_VERSION>>(
        &self,
        group_id: &GroupId,
    ) -> Result<()> {
        self.delete_entity(EPOCH_SECRETS, group_id)
    }

    fn clear_proposal_queue<
        GroupId: traits::GroupId<CURRENT_VERSION>,
        ProposalRef: traits::ProposalRef<CURRENT_VERSION>,
    >(
        &self,
        group_id: &GroupId,
    ) -> Result<()> {
        let queue_key = self.ns_key(mls_key(PROPOSAL_QUEUE_REFS, group_id)?);
        self.atomic(|inner| {
            // Each queued ref names one proposal record under (group, ref). The refs
            // are decoded to their type so the keys serialise exactly as written.
            let refs: Vec<ProposalRef> = match inner.get(&queue_key)? {
                Some(bytes) => serde_json::from_slice(bytes)?,
                None => Vec::new(),
            };
            for proposal_ref in refs {
                let key = self.ns_key(mls_key(QUEUED_PROPOSAL, &(group_id, &proposal_ref))?);
                inner.set(key, None);
            }
            inner.set(queue_key, None);
            Ok(())
        })
    }

    fn delete_signature_key_pair<
        SignaturePublicKey: traits::SignaturePublicKey<CURRENT_VERSION>,
    >(
        &self,
        public_key: &SignaturePublicKey,
    ) -> Result<()> {
        self.delete_entity(SIGNATURE_KEY_PAIR, public_key)
    }

    fn delete_encryption_key_pair<EncryptionKey: traits::EncryptionKey<CURRENT_VERSION>>(
        &self,
        public_key: &EncryptionKey,
    ) -> Result<()> {
        self.delete_entity(ENCRYPTION_KEY_PAIR, public_key)
    }

    fn delete_encryption_epoch_key_pairs<
        GroupId: traits::GroupId<CURRENT_VERSION>,
        EpochKey: traits::EpochKey<CURRENT_VERSION>,
    >(
        &self,
        group_id: &GroupId,
        epoch: &EpochKey,
        leaf_index: u32,
    ) -> Result<()> {
        self.delete_entity(EPOCH_KEY_PAIRS, &(group_id, epoch, leaf_index))
    }

    fn delete_key_package<KeyPackageRef: traits::HashReference<CURRENT_VERSION>>(
        &self,
        hash_ref: &KeyPackageRef,
    ) -> Result<()> {
        self.delete_entity(KEY_PACKAGE, hash_ref)
    }

    fn delete_psk<PskKey: traits::PskId<CURRENT_VERSION>>(&self, psk_id: &PskKey) -> Result<()> {
        self.delete_entity(PSK, psk_id)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use openmls_traits::storage::{Entity, Key};
    use serde::Deserialize;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Instant;

    // Stand-ins for OpenMLS's key and entity types.
    #[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
    struct Gid(Vec<u8>);
    impl Key<CURRENT_VERSION> for Gid {}
    impl traits::GroupId<CURRENT_VERSION> for Gid {}

    #[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
    struct Epoch(u64);
    impl Key<CURRENT_VERSION> for Epoch {}
    impl traits::EpochKey<CURRENT_VERSION> for Epoch {}

    #[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
    struct PRef {
        value: Vec<u8>,
        tag: String,
    }
    impl Key<CURRENT_VERSION> for PRef {}
    impl Entity<CURRENT_VERSION> for PRef {}
    impl traits::ProposalRef<CURRENT_VERSION> for PRef {}

    #[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
    struct Blob(Vec<u8>);
    impl Entity<CURRENT_VERSION> for Blob {}
    impl traits::GroupState<CURRENT_VERSION> for Blob {}
    impl traits::TreeSync<CURRENT_VERSION> for Blob {}
    impl traits::GroupContext<CURRENT_VERSION> for Blob {}
    impl traits::LeafNode<CURRENT_VERSION> for Blob {}
    impl traits::QueuedProposal<CURRENT_VERSION> for Blob {}
    impl traits::HpkeKeyPair<CURRENT_VERSION> for Blob {}
    impl traits::MessageSecrets<CURRENT_VERSION> for Blob {}

    fn pref(n: u8) -> PRef {
        PRef {
            value: vec![n; 4],
            tag: format!("p{n}"),
        }
    }

    /// A fresh directory under the system temp dir, removed on drop.
    struct TempDir(PathBuf);
    impl TempDir {
        fn new() -> Self {
            static N: AtomicUsize = AtomicUsize::new(0);
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos();
            let dir = std::env::temp_dir().join(format!(
                "rcs-mls-storage-{}-{}-{nanos}",
                std::process::id(),
                N.fetch_add(1, Ordering::SeqCst)
            ));
            std::fs::create_dir_all(&dir).unwrap();
            Self(dir)
        }
        fn file(&self, name: &str) -> PathBuf {
            self.0.join(name)
        }
    }
    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn open(path: &Path) -> KvStorage {
        KvStorage::open_sqlite(path, SqliteOptions::default()).unwrap()
    }

    fn row_count(path: &Path) -> i64 {
        let conn = Connection::open(path).unwrap();
        conn.query_row("SELECT count(*) FROM kv", [], |r| r.get(0))
            .unwrap()
    }

    #[test]
    fn is_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<KvStorage>();
    }

    #[test]
    fn memory_writes_and_rollback() {
        let s = KvStorage::in_memory();
        let g = Gid(b"g".to_vec());
        s.write_group_state(&g, &Blob(vec![1])).unwrap();
        s.put_app(b"x", b"1").unwrap();

        assert!(!s.begin().unwrap());
        s.write_group_state(&g, &Blob(vec![2])).unwrap();
        s.delete_app(b"x").unwrap();
        s.put_app(b"y", b"2").unwrap();
        assert_eq!(s.group_state::<Blob, _>(&g).unwrap(), Some(Blob(vec![2])));
        s.rollback().unwrap();

        assert_eq!(s.group_state::<Blob, _>(&g).unwrap(), Some(Blob(vec![1])));
        assert_eq!(s.get_app(b"x").unwrap(), Some(b"1".to_vec()));
        assert_eq!(s.get_app(b"y").unwrap(), None);
        assert_eq!(s.transaction_depth().unwrap(), 0);
        // Commit without a transaction is an error; rollback is a no-op.
        assert_eq!(s.commit(), Err(StorageError::NoTransaction));
        s.rollback().unwrap();
    }

    #[test]
    fn memory_delete_leaves_no_tombstone() {
        let s = KvStorage::in_memory();
        s.put_app(b"k", b"v").unwrap();
        s.delete_app(b"k").unwrap();
        assert!(s.lock().unwrap().entries.is_empty());
    }

    #[test]
    fn nested_transactions() {
        let s = KvStorage::in_memory();
        s.put_app(b"a", b"0").unwrap();
        s.begin().unwrap();
        s.put_app(b"a", b"1").unwrap();
        assert!(!s.begin().unwrap());
        s.put_app(b"a", b"2").unwrap();
        s.put_app(b"b", b"2").unwrap();
        assert_eq!(s.transaction_depth().unwrap(), 2);
        s.rollback().unwrap(); // inner: back to the outer's state
        assert_eq!(s.get_app(b"a").unwrap(), Some(b"1".to_vec()));
        assert_eq!(s.get_app(b"b").unwrap(), None);
        s.begin().unwrap();
        s.put_app(b"c", b"3").unwrap();
        s.commit().unwrap(); // inner commit: folded into the outer
        s.rollback().unwrap(); // outer rollback undoes everything
        assert_eq!(s.get_app(b"a").unwrap(), Some(b"0".to_vec()));
        assert_eq!(s.get_app(b"c").unwrap(), None);
    }

    #[test]
    fn transaction_helper_commits_or_rolls_back() {
        let s = KvStorage::in_memory();
        let r: std::result::Result<(), StorageError> = s.transaction(|_| {
            s.put_app(b"a", b"1")?;
            Err(StorageError::Corrupt("boom".into()))
        });
        assert!(r.is_err());
        assert_eq!(s.get_app(b"a").unwrap(), None);
        s.transaction(|_| s.put_app(b"a", b"2")).unwrap();
        assert_eq!(s.get_app(b"a").unwrap(), Some(b"2".to_vec()));
        assert_eq!(s.transaction_depth().unwrap(), 0);
    }

    #[test]
    fn sqlite_round_trip_through_commit_and_reopen() {
        let dir = TempDir::new();
        let path = dir.file("store.db");
        let g = Gid(b"group".to_vec());
        {
            let s = open(&path);
            s.begin().unwrap();
            s.write_group_state(&g, &Blob(vec![7; 100])).unwrap();
            s.append_own_leaf_node(&g, &Blob(vec![1])).unwrap();
            s.append_own_leaf_node(&g, &Blob(vec![2])).unwrap();
            s.write_encryption_epoch_key_pairs(&g, &Epoch(3), 1, &[Blob(vec![3]), Blob(vec![4])])
                .unwrap();
            s.put_app(b"identity/alice", b"secret").unwrap();
            s.commit().unwrap();
            // A write outside a transaction commits by itself.
            s.put_app(b"identity/bob", b"other").unwrap();
        }
        let s = open(&path);
        assert_eq!(
            s.group_state::<Blob, _>(&g).unwrap(),
            Some(Blob(vec![7; 100]))
        );
        assert_eq!(
            s.own_leaf_nodes::<_, Blob>(&g).unwrap(),
            vec![Blob(vec![1]), Blob(vec![2])]
        );
        assert_eq!(
            s.encryption_epoch_key_pairs::<_, _, Blob>(&g, &Epoch(3), 1)
                .unwrap(),
            vec![Blob(vec![3]), Blob(vec![4])]
        );
        assert!(s
            .encryption_epoch_key_pairs::<_, _, Blob>(&g, &Epoch(3), 0)
            .unwrap()
            .is_empty());
        assert_eq!(
            s.get_app(b"identity/alice").unwrap(),
            Some(b"secret".to_vec())
        );
        assert_eq!(
            s.list_app(b"identity/").unwrap(),
            vec![
                (b"identity/alice".to_vec(), b"secret".to_vec()),
                (b"identity/bob".to_vec(), b"other".to_vec()),
            ]
        );
        assert_eq!(s.path(), Some(path.clone()));
    }

    #[test]
    fn sqlite_rollback_restores_memory_and_file() {
        let dir = TempDir::new();
        let path = dir.file("store.db");
        let g = Gid(b"group".to_vec());
        let s = open(&path);
        s.write_group_state(&g, &Blob(vec![1])).unwrap();
        s.put_app(b"keep", b"1").unwrap();

        s.begin().unwrap();
        s.write_group_state(&g, &Blob(vec![2])).unwrap();
        s.delete_app(b"keep").unwrap();
        s.put_app(b"new", b"2").unwrap();
        s.rollback().unwrap();

        assert_eq!(s.group_state::<Blob, _>(&g).unwrap(), Some(Blob(vec![1])));
        assert_eq!(s.get_app(b"keep").unwrap(), Some(b"1".to_vec()));
        assert_eq!(s.get_app(b"new").unwrap(), None);
        drop(s);
        let s = open(&path);
        assert_eq!(s.group_state::<Blob, _>(&g).unwrap(), Some(Blob(vec![1])));
        assert_eq!(s.get_app(b"keep").unwrap(), Some(b"1".to_vec()));
        assert_eq!(s.get_app(b"new").unwrap(), None);
        assert_eq!(row_count(&path), 2);
    }

    #[test]
    fn uncommitted_changes_are_lost_on_drop() {
        let dir = TempDir::new();
        let path = dir.file("store.db");
        {
            let s = open(&path);
            s.begin().unwrap();
            s.put_app(b"a", b"1").unwrap();
        }
        assert_eq!(open(&path).get_app(b"a").unwrap(), None);
    }

    #[test]
    fn proposal_queue() {
        for_each_backend(|s, _| {
            let g = Gid(b"g".to_vec());
            for n in 1..=3 {
                s.queue_proposal(&g, &pref(n), &Blob(vec![n])).unwrap();
            }
            assert_eq!(
                s.queued_proposal_refs::<_, PRef>(&g).unwrap(),
                vec![pref(1), pref(2), pref(3)]
            );
            s.remove_proposal(&g, &pref(2)).unwrap();
            assert_eq!(
                s.queued_proposals::<_, PRef, Blob>(&g).unwrap(),
                vec![(pref(1), Blob(vec![1])), (pref(3), Blob(vec![3]))]
            );
            s.clear_proposal_queue::<_, PRef>(&g).unwrap();
            assert!(s.queued_proposals::<_, PRef, Blob>(&g).unwrap().is_empty());
            // Nothing of the queue is left behind.
            assert!(s.lock().unwrap().scan(MLS_PREFIX).unwrap().is_empty());
        });
    }

    /// Run `f` against an in-memory store and a fresh SQLite store.
    fn for_each_backend(f: impl Fn(&KvStorage, Option<&Path>)) {
        f(&KvStorage::in_memory(), None);
        let dir = TempDir::new();
        let path = dir.file("store.db");
        f(&open(&path), Some(&path));
    }

    #[test]
    fn list_and_delete_see_uncommitted_changes() {
        for_each_backend(|s, _| {
            s.put_app(b"a/1", b"1").unwrap();
            s.put_app(b"a/2", b"2").unwrap();
            s.put_app(b"b/1", b"3").unwrap();
            s.begin().unwrap();
            s.delete_app(b"a/1").unwrap();
            s.put_app(b"a/3", b"4").unwrap();
            let keys: Vec<_> = s
                .list_app(b"a/")
                .unwrap()
                .into_iter()
                .map(|(k, _)| k)
                .collect();
            assert_eq!(keys, vec![b"a/2".to_vec(), b"a/3".to_vec()]);
            assert_eq!(s.delete_app_prefix(b"a/").unwrap(), 2);
            assert!(s.list_app(b"a/").unwrap().is_empty());
            s.rollback().unwrap();
            let keys: Vec<_> = s
                .list_app(b"")
                .unwrap()
                .into_iter()
                .map(|(k, _)| k)
                .collect();
            assert_eq!(
                keys,
                vec![b"a/1".to_vec(), b"a/2".to_vec(), b"b/1".to_vec()]
            );
        });
    }

    #[test]
    fn delete_group_erases_only_that_group() {
        for_each_backend(|s, path| {
            let g1 = Gid(b"one".to_vec());
            let g2 = Gid(b"two".to_vec());
            for g in [&g1, &g2] {
                s.write_group_state(g, &Blob(vec![1])).unwrap();
                s.write_tree(g, &Blob(vec![2])).unwrap();
                s.write_context(g, &Blob(vec![3])).unwrap();
                s.write_message_secrets(g, &Blob(vec![4])).unwrap();
                s.append_own_leaf_node(g, &Blob(vec![5])).unwrap();
                s.queue_proposal(g, &pref(1), &Blob(vec![6])).unwrap();
                for epoch in 0..3 {
                    s.write_encryption_epoch_key_pairs(g, &Epoch(epoch), 0, &[Blob(vec![7])])
                        .unwrap();
                }
            }
            s.put_app(b"other", b"x").unwrap();
            s.delete_group(&g1).unwrap();

            assert_eq!(s.group_state::<Blob, _>(&g1).unwrap(), None);
            assert!(s.queued_proposal_refs::<_, PRef>(&g1).unwrap().is_empty());
            assert!(s
                .encryption_epoch_key_pairs::<_, _, Blob>(&g1, &Epoch(1), 0)
                .unwrap()
                .is_empty());
            assert_eq!(s.group_state::<Blob, _>(&g2).unwrap(), Some(Blob(vec![1])));
            assert_eq!(s.queued_proposals::<_, PRef, Blob>(&g2).unwrap().len(), 1);
            let remaining = s.lock().unwrap().scan(b"").unwrap();
            assert_eq!(remaining.len(), 7 + 3 + 1);
            if let Some(path) = path {
                assert_eq!(row_count(path), 7 + 3 + 1);
            }
        });
    }

    #[test]
    fn move_group_into_an_archive_and_back_keeps_namespaces_apart() {
        for_each_backend(|s, path| {
            let g = Gid(b"grp".to_vec());
            let other = Gid(b"other".to_vec());
            for (group, v) in [(&g, 1u8), (&other, 9)] {
                s.write_group_state(group, &Blob(vec![v])).unwrap();
                s.write_message_secrets(group, &Blob(vec![v + 1])).unwrap();
                s.queue_proposal(group, &pref(1), &Blob(vec![v + 2]))
                    .unwrap();
                s.write_encryption_epoch_key_pairs(group, &Epoch(4), 0, &[Blob(vec![v + 3])])
                    .unwrap();
            }
            s.put_app(b"record/grp", b"v1").unwrap();
            s.put_app(b"kept", b"x").unwrap();
            let archive = s.archive(b"era/1");
            s.move_group(&g, &[b"record/grp"], &archive).unwrap();

            // Gone from the store (and only that group), present in the archive.
            assert_eq!(s.group_state::<Blob, _>(&g).unwrap(), None);
            assert!(s.queued_proposal_refs::<_, PRef>(&g).unwrap().is_empty());
            assert_eq!(s.get_app(b"record/grp").unwrap(), None);
            assert_eq!(
                s.group_state::<Blob, _>(&other).unwrap(),
                Some(Blob(vec![9]))
            );
            assert_eq!(s.get_app(b"kept").unwrap(), Some(b"x".to_vec()));
            assert_eq!(
                archive.group_state::<Blob, _>(&g).unwrap(),
                Some(Blob(vec![1]))
            );
            assert_eq!(
                archive.message_secrets::<_, Blob>(&g).unwrap(),
                Some(Blob(vec![2]))
            );
            assert_eq!(
                archive.queued_proposals::<_, PRef, Blob>(&g).unwrap().len(),
                1
            );
            assert_eq!(
                archive
                    .encryption_epoch_key_pairs::<_, _, Blob>(&g, &Epoch(4), 0)
                    .unwrap(),
                vec![Blob(vec![4])]
            );
            assert_eq!(
                archive.get_app(b"record/grp").unwrap(),
                Some(b"v1".to_vec())
            );
            assert_eq!(archive.group_state::<Blob, _>(&other).unwrap(), None);
            assert_eq!(
                archive.list_app(b"").unwrap(),
                vec![(b"record/grp".to_vec(), b"v1".to_vec())]
            );
            // Another archive, and the store's own listing, see none of it.
            assert_eq!(
                s.archive(b"era/2").group_state::<Blob, _>(&g).unwrap(),
                None
            );
            assert_eq!(s.archive(b"era/").group_state::<Blob, _>(&g).unwrap(), None);
            assert!(s.list_app(b"record").unwrap().is_empty());

            // A new group of the same id lives beside the archived one.
            s.write_group_state(&g, &Blob(vec![42])).unwrap();
            assert_eq!(
                archive.group_state::<Blob, _>(&g).unwrap(),
                Some(Blob(vec![1]))
            );
            archive.delete_group(&g).unwrap();
            archive.delete_app(b"record/grp").unwrap();
            assert_eq!(s.group_state::<Blob, _>(&g).unwrap(), Some(Blob(vec![42])));
            assert_eq!(archive.group_state::<Blob, _>(&g).unwrap(), None);
            if let Some(path) = path {
                // "other" (state, secrets, proposal, queue, key pairs), the new
                // group's state and "kept": nothing of the archive is left behind.
                assert_eq!(row_count(path), 5 + 1 + 1);
            }

            // Views of another store are refused.
            let foreign = KvStorage::in_memory();
            assert!(s.move_group(&other, &[], &foreign).is_err());
            assert_eq!(
                s.group_state::<Blob, _>(&other).unwrap(),
                Some(Blob(vec![9]))
            );
        });
    }

    #[test]
    fn corrupted_value_is_an_error_not_a_panic() {
        let s = KvStorage::in_memory();
        let g = Gid(b"g".to_vec());
        let key = mls_key(GROUP_STATE, &g).unwrap();
        let list_key = mls_key(OWN_LEAF_NODES, &g).unwrap();
        {
            let mut inner = s.lock().unwrap();
            inner.set(key, Some(b"\xff not json".to_vec()));
            inner.set(list_key, Some(b"{\"not\":\"a list\"}".to_vec()));
        }
        assert!(matches!(
            s.group_state::<Blob, _>(&g),
            Err(StorageError::Serialization(_))
        ));
        assert!(matches!(
            s.own_leaf_nodes::<_, Blob>(&g),
            Err(StorageError::Serialization(_))
        ));
        // An append to a broken list fails and changes nothing.
        assert!(s.append_own_leaf_node(&g, &Blob(vec![1])).is_err());
        // A queue ref without its proposal is reported, not unwrapped.
        let queue_key = mls_key(PROPOSAL_QUEUE_REFS, &g).unwrap();
        let refs = serde_json::to_vec(&vec![pref(9)]).unwrap();
        s.lock().unwrap().set(queue_key, Some(refs));
        assert!(matches!(
            s.queued_proposals::<_, PRef, Blob>(&g),
            Err(StorageError::Corrupt(_))
        ));
    }

    #[test]
    fn failed_change_inside_transaction_is_undone_alone() {
        let s = KvStorage::in_memory();
        let g = Gid(b"g".to_vec());
        s.begin().unwrap();
        s.put_app(b"kept", b"1").unwrap();
        let list_key = mls_key(OWN_LEAF_NODES, &g).unwrap();
        s.lock()
            .unwrap()
            .set(list_key.clone(), Some(b"oops".to_vec()));
        // queue_proposal writes the proposal, then fails on the broken queue list...
        let queue_key = mls_key(PROPOSAL_QUEUE_REFS, &g).unwrap();
        s.lock().unwrap().set(queue_key, Some(b"oops".to_vec()));
        assert!(s.queue_proposal(&g, &pref(1), &Blob(vec![1])).is_err());
        // ...and the proposal it wrote is gone again, while the rest stays.
        let proposal_key = mls_key(QUEUED_PROPOSAL, &(&g, &pref(1))).unwrap();
        assert_eq!(s.lock().unwrap().get(&proposal_key).unwrap(), None);
        assert_eq!(s.get_app(b"kept").unwrap(), Some(b"1".to_vec()));
        s.commit().unwrap();
    }

    fn assert_refused(contents: &[u8], expected: impl Fn(&StorageError) -> bool) {
        let dir = TempDir::new();
        let path = dir.file("file.db");
        std::fs::write(&path, contents).unwrap();
        let err = KvStorage::open_sqlite(&path, SqliteOptions::default()).unwrap_err();
        assert!(expected(&err), "unexpected error: {err}");
        assert_eq!(
            std::fs::read(&path).unwrap(),
            contents,
            "the file was modified"
        );
    }

    #[test]
    fn non_sqlite_files_are_refused_untouched() {
        let random: Vec<u8> = (0..4096u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        assert_refused(&random, |e| matches!(e, StorageError::NotADatabase { .. }));
        assert_refused(b"hello", |e| matches!(e, StorageError::NotADatabase { .. }));
        // A valid header with garbage behind it.
        let mut fake = SQLITE_HEADER.to_vec();
        fake.extend_from_slice(&random);
        assert_refused(&fake, |e| {
            matches!(
                e,
                StorageError::NotADatabase { .. } | StorageError::Corrupt(_)
            )
        });
        let msg = StorageError::NotADatabase { path: "x".into() }.to_string();
        assert!(msg.contains("not an SQLite database"), "{msg}");
    }

    /// Build an SQLite file with `setup`, close it, and return its bytes.
    fn sqlite_file(setup: &str) -> Vec<u8> {
        let dir = TempDir::new();
        let path = dir.file("x.db");
        {
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch(setup).unwrap();
        }
        std::fs::read(&path).unwrap()
    }

    #[test]
    fn foreign_sqlite_databases_are_refused_untouched() {
        let users = sqlite_file("CREATE TABLE users (name TEXT); INSERT INTO users VALUES ('x');");
        assert_refused(&users, |e| {
            matches!(e, StorageError::ForeignDatabase { .. })
        });
        // A `meta` table of another shape, or of another application.
        let other_meta = sqlite_file("CREATE TABLE meta (k TEXT, v TEXT);");
        assert_refused(&other_meta, |e| {
            matches!(e, StorageError::ForeignDatabase { .. })
        });
        let other_app = sqlite_file(
            "CREATE TABLE meta (id INTEGER PRIMARY KEY, application TEXT, schema_version INTEGER);
             INSERT INTO meta VALUES (1, 'something-else', 1);",
        );
        assert_refused(&other_app, |e| {
            matches!(e, StorageError::ForeignDatabase { .. })
        });
        let msg = StorageError::ForeignDatabase { path: "x".into() }.to_string();
        assert!(msg.contains("another application"), "{msg}");
    }

    #[test]
    fn newer_schema_is_refused_untouched() {
        let dir = TempDir::new();
        let path = dir.file("store.db");
        {
            let s = open(&path);
            s.put_app(b"a", b"1").unwrap();
        }
        {
            let conn = Connection::open(&path).unwrap();
            conn.execute("UPDATE meta SET schema_version = 99", [])
                .unwrap();
        }
        let before = std::fs::read(&path).unwrap();
        let err = KvStorage::open_sqlite(&path, SqliteOptions::default()).unwrap_err();
        assert_eq!(
            err,
            StorageError::NewerSchema {
                path: path.display().to_string(),
                found: 99,
                supported: SCHEMA_VERSION
            }
        );
        assert!(err.to_string().contains("newer rcs-mls"), "{err}");
        assert_eq!(std::fs::read(&path).unwrap(), before);
    }

    #[test]
    fn new_stores_only_where_nothing_is() {
        let dir = TempDir::new();
        // An empty file becomes a store.
        let empty = dir.file("empty.db");
        std::fs::write(&empty, b"").unwrap();
        open(&empty).put_app(b"a", b"1").unwrap();
        assert_eq!(open(&empty).get_app(b"a").unwrap(), Some(b"1".to_vec()));
        // create = false does not create.
        let missing = dir.file("missing.db");
        let options = SqliteOptions {
            create: false,
            ..SqliteOptions::default()
        };
        assert!(matches!(
            KvStorage::open_sqlite(&missing, options.clone()),
            Err(StorageError::NotFound { .. })
        ));
        assert!(!missing.exists());
        assert!(KvStorage::open_sqlite(&empty, options).is_ok());
        // A directory is not a store.
        assert!(matches!(
            KvStorage::open_sqlite(&dir.0, SqliteOptions::default()),
            Err(StorageError::Io { .. })
        ));
        // The file is marked as ours.
        let conn = Connection::open(&empty).unwrap();
        let (app, version): (String, i64) = conn
            .query_row("SELECT application, schema_version FROM meta", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .unwrap();
        assert_eq!((app.as_str(), version), (APPLICATION, SCHEMA_VERSION));
        let mode: String = conn
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
    }

    #[test]
    fn second_connection_sees_writes_after_begin() {
        let dir = TempDir::new();
        let path = dir.file("store.db");
        let a = open(&path);
        let b = open(&path);
        let g = Gid(b"g".to_vec());
        // b caches the state (and an absence).
        assert_eq!(b.get_app(b"k").unwrap(), None);
        assert_eq!(b.group_state::<Blob, _>(&g).unwrap(), None);

        a.begin().unwrap();
        a.put_app(b"k", b"1").unwrap();
        a.write_group_state(&g, &Blob(vec![1])).unwrap();
        a.commit().unwrap();

        assert!(
            b.begin().unwrap(),
            "begin must report the other connection's commit"
        );
        assert_eq!(b.get_app(b"k").unwrap(), Some(b"1".to_vec()));
        assert_eq!(b.group_state::<Blob, _>(&g).unwrap(), Some(Blob(vec![1])));
        b.put_app(b"k", b"2").unwrap();
        b.commit().unwrap();
        // Our own commits do not count as someone else's.
        assert!(!b.begin().unwrap());
        b.rollback().unwrap();

        assert!(a.begin().unwrap());
        assert_eq!(a.get_app(b"k").unwrap(), Some(b"2".to_vec()));
        a.commit().unwrap();
        // Writes outside a transaction check too, and then see fresh data.
        b.delete_app(b"k").unwrap();
        a.put_app(b"other", b"x").unwrap();
        assert_eq!(a.get_app(b"k").unwrap(), None);
    }

    #[test]
    fn lock_held_past_busy_timeout_is_reported() {
        let dir = TempDir::new();
        let path = dir.file("store.db");
        let a = open(&path);
        let b = KvStorage::open_sqlite(
            &path,
            SqliteOptions {
                busy_timeout: Duration::from_millis(200),
                ..SqliteOptions::default()
            },
        )
        .unwrap();
        a.begin().unwrap();
        a.put_app(b"k", b"1").unwrap();

        // Opening an existing store does not wait for the lock.
        let started = Instant::now();
        let c = KvStorage::open_sqlite(
            &path,
            SqliteOptions {
                busy_timeout: Duration::from_millis(5_000),
                ..SqliteOptions::default()
            },
        )
        .unwrap();
        assert!(started.elapsed() < Duration::from_millis(1_000));
        drop(c);

        let started = Instant::now();
        assert_eq!(b.begin(), Err(StorageError::Locked));
        assert!(started.elapsed() >= Duration::from_millis(150));
        assert_eq!(b.put_app(b"k", b"2"), Err(StorageError::Locked));
        assert_eq!(b.transaction_depth().unwrap(), 0);
        assert!(StorageError::Locked.to_string().contains("locked"));
        // Readers are not blocked by the writer (WAL), and see the last commit.
        assert_eq!(b.get_app(b"k").unwrap(), None);

        a.commit().unwrap();
        assert!(b.begin().unwrap());
        assert_eq!(b.get_app(b"k").unwrap(), Some(b"1".to_vec()));
        b.commit().unwrap();
    }

    #[test]
    fn threads_share_one_store() {
        let s = std::sync::Arc::new(KvStorage::in_memory());
        let handles: Vec<_> = (0..4u8)
            .map(|t| {
                let s = s.clone();
                std::thread::spawn(move || {
                    for i in 0..50u8 {
                        s.put_app(&[t, i], &[i]).unwrap();
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        assert_eq!(s.list_app(b"").unwrap().len(), 200);
    }

    mod openmls_flow {
        use super::*;
        use openmls::prelude::tls_codec::{Deserialize as _, Serialize as _};
        use openmls::prelude::*;
        use openmls_basic_credential::SignatureKeyPair;
        use openmls_rust_crypto::RustCrypto;

        const SUITE: Ciphersuite = Ciphersuite::MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519;

        struct TestProvider {
            crypto: RustCrypto,
            storage: KvStorage,
        }

        impl OpenMlsProvider for TestProvider {
            type CryptoProvider = RustCrypto;
            type RandProvider = RustCrypto;
            type StorageProvider = KvStorage;
            fn storage(&self) -> &KvStorage {
                &self.storage
            }
            fn crypto(&self) -> &RustCrypto {
                &self.crypto
            }
            fn rand(&self) -> &RustCrypto {
                &self.crypto
            }
        }

        fn provider(storage: KvStorage) -> TestProvider {
            TestProvider {
                crypto: RustCrypto::default(),
                storage,
            }
        }

        struct Member {
            signer: SignatureKeyPair,
            credential: CredentialWithKey,
        }

        fn member(p: &TestProvider, name: &str) -> Member {
            let signer = SignatureKeyPair::new(SUITE.signature_algorithm()).unwrap();
            signer.store(p.storage()).unwrap();
            let credential = CredentialWithKey {
                credential: BasicCredential::new(name.as_bytes().to_vec()).into(),
                signature_key: signer.public().into(),
            };
            Member { signer, credential }
        }

        fn reload_signer(p: &TestProvider, m: &Member) -> SignatureKeyPair {
            SignatureKeyPair::read(p.storage(), m.signer.public(), SUITE.signature_algorithm())
                .expect("the signer was persisted")
        }

        fn welcome_of(msg: MlsMessageOut) -> Welcome {
            let bytes = msg.tls_serialize_detached().unwrap();
            match MlsMessageIn::tls_deserialize_exact(bytes)
                .unwrap()
                .extract()
            {
                MlsMessageBodyIn::Welcome(w) => w,
                _ => panic!("not a welcome"),
            }
        }

        fn wire(msg: &MlsMessageOut) -> ProtocolMessage {
            let bytes = msg.tls_serialize_detached().unwrap();
            MlsMessageIn::tls_deserialize_exact(bytes)
                .unwrap()
                .try_into_protocol_message()
                .unwrap()
        }

        fn send_and_receive(
            (sp, sender, sg): (&TestProvider, &SignatureKeyPair, &mut MlsGroup),
            (rp, rg): (&TestProvider, &mut MlsGroup),
            text: &[u8],
        ) {
            let out = sg.create_message(sp, sender, text).unwrap();
            let processed = rg.process_message(rp, wire(&out)).unwrap();
            match processed.into_content() {
                ProcessedMessageContent::ApplicationMessage(m) => {
                    assert_eq!(m.into_bytes(), text)
                }
                other => panic!("unexpected {other:?}"),
            }
        }

        /// Create a group, add a member, reopen both stores from their files,
        /// and carry on: messages both ways, then another add.
        #[test]
        fn group_survives_reopen() {
            let dir = TempDir::new();
            let alice_path = dir.file("alice.db");
            let bob_path = dir.file("bob.db");
            let create_config = MlsGroupCreateConfig::builder()
                .ciphersuite(SUITE)
                .use_ratchet_tree_extension(true)
                .build();

            let (alice, bob, group_id) = {
                let ap = provider(open(&alice_path));
                let bp = provider(open(&bob_path));
                let alice = member(&ap, "alice");
                let bob = member(&bp, "bob");

                ap.storage.begin().unwrap();
                let mut ag =
                    MlsGroup::new(&ap, &alice.signer, &create_config, alice.credential.clone())
                        .unwrap();
                ap.storage.commit().unwrap();

                bp.storage.begin().unwrap();
                let bob_kp = KeyPackage::builder()
                    .build(SUITE, &bp, &bob.signer, bob.credential.clone())
                    .unwrap();
                bp.storage.commit().unwrap();

                ap.storage
                    .transaction(|_| -> std::result::Result<_, StorageError> {
                        let (_, welcome, _) = ag
                            .add_members(&ap, &alice.signer, &[bob_kp.key_package().clone()])
                            .unwrap();
                        ag.merge_pending_commit(&ap).unwrap();
                        let welcome = welcome_of(welcome);
                        bp.storage.transaction(|_| {
                            let join = MlsGroupJoinConfig::default();
                            let mut bg = StagedWelcome::new_from_welcome(&bp, &join, welcome, None)
                                .unwrap()
                                .into_group(&bp)
                                .unwrap();
                            send_and_receive(
                                (&ap, &alice.signer, &mut ag),
                                (&bp, &mut bg),
                                b"before reopen",
                            );
                            Ok(())
                        })
                    })
                    .unwrap();
                // The key package was consumed by the join, and that is persisted.
                let kp_ref = bob_kp.key_package().hash_ref(bp.crypto()).unwrap();
                assert!(bp
                    .storage
                    .key_package::<_, KeyPackageBundle>(&kp_ref)
                    .unwrap()
                    .is_none());
                (alice, bob, ag.group_id().clone())
            };

            // Everything from the files again.
            let ap = provider(open(&alice_path));
            let bp = provider(open(&bob_path));
            let alice_signer = reload_signer(&ap, &alice);
            let bob_signer = reload_signer(&bp, &bob);
            let mut ag = MlsGroup::load(ap.storage(), &group_id).unwrap().unwrap();
            let mut bg = MlsGroup::load(bp.storage(), &group_id).unwrap().unwrap();
            assert_eq!(ag.epoch(), bg.epoch());
            assert_eq!(ag.members().count(), 2);

            for (text, a_to_b) in [(&b"after reopen"[..], true), (b"reply", false)] {
                ap.storage.begin().unwrap();
                bp.storage.begin().unwrap();
                if a_to_b {
                    send_and_receive((&ap, &alice_signer, &mut ag), (&bp, &mut bg), text);
                } else {
                    send_and_receive((&bp, &bob_signer, &mut bg), (&ap, &mut ag), text);
                }
                ap.storage.commit().unwrap();
                bp.storage.commit().unwrap();
            }

            // A commit after the reopen: Alice adds Carol; Bob processes it.
            let cp = provider(KvStorage::in_memory());
            let carol = member(&cp, "carol");
            let carol_kp = KeyPackage::builder()
                .build(SUITE, &cp, &carol.signer, carol.credential.clone())
                .unwrap();
            ap.storage.begin().unwrap();
            let (commit, welcome, _) = ag
                .add_members(&ap, &alice_signer, &[carol_kp.key_package().clone()])
                .unwrap();
            ag.merge_pending_commit(&ap).unwrap();
            ap.storage.commit().unwrap();
            bp.storage.begin().unwrap();
            match bg
                .process_message(&bp, wire(&commit))
                .unwrap()
                .into_content()
            {
                ProcessedMessageContent::StagedCommitMessage(staged) => {
                    bg.merge_staged_commit(&bp, *staged).unwrap()
                }
                other => panic!("unexpected {other:?}"),
            }
            bp.storage.commit().unwrap();
            let mut cg = StagedWelcome::new_from_welcome(
                &cp,
                &MlsGroupJoinConfig::default(),
                welcome_of(welcome),
                None,
            )
            .unwrap()
            .into_group(&cp)
            .unwrap();
            send_and_receive((&bp, &bob_signer, &mut bg), (&cp, &mut cg), b"hi carol");

            // And once more from the files: both are in epoch 2.
            drop((ap, bp));
            let ap = provider(open(&alice_path));
            let bp = provider(open(&bob_path));
            let ag = MlsGroup::load(ap.storage(), &group_id).unwrap().unwrap();
            let mut bg = MlsGroup::load(bp.storage(), &group_id).unwrap().unwrap();
            assert_eq!(ag.epoch().as_u64(), 2);
            assert_eq!(bg.epoch().as_u64(), 2);
            send_and_receive((&cp, &carol.signer, &mut cg), (&bp, &mut bg), b"hi bob");
        }

        /// OpenMLS deletes the key package before it notices the missing ratchet
        /// tree; rolling back brings the key package back, so a retry can succeed.
        #[test]
        fn failed_join_keeps_the_key_package() {
            for sqlite in [false, true] {
                let dir = TempDir::new();
                let bp = provider(if sqlite {
                    open(&dir.file("bob.db"))
                } else {
                    KvStorage::in_memory()
                });
                let ap = provider(KvStorage::in_memory());
                let alice = member(&ap, "alice");
                // No ratchet tree extension: the joiner must be given the tree.
                let config = MlsGroupCreateConfig::builder().ciphersuite(SUITE).build();
                let mut ag =
                    MlsGroup::new(&ap, &alice.signer, &config, alice.credential.clone()).unwrap();

                let bob = member(&bp, "bob");
                let bob_kp = KeyPackage::builder()
                    .build(SUITE, &bp, &bob.signer, bob.credential.clone())
                    .unwrap();
                let kp_ref = bob_kp.key_package().hash_ref(bp.crypto()).unwrap();
                let (_, welcome, _) = ag
                    .add_members(&ap, &alice.signer, &[bob_kp.key_package().clone()])
                    .unwrap();
                ag.merge_pending_commit(&ap).unwrap();
                let welcome = welcome_of(welcome);
                let join = MlsGroupJoinConfig::default();

                bp.storage.begin().unwrap();
                let result = StagedWelcome::new_from_welcome(&bp, &join, welcome.clone(), None);
                assert!(
                    matches!(result, Err(WelcomeError::MissingRatchetTree)),
                    "joining without the tree must fail"
                );
                // OpenMLS consumed the key package before failing...
                assert!(bp
                    .storage
                    .key_package::<_, KeyPackageBundle>(&kp_ref)
                    .unwrap()
                    .is_none());
                bp.storage.rollback().unwrap();
                // ...and the rollback brought it back.
                assert!(bp
                    .storage
                    .key_package::<_, KeyPackageBundle>(&kp_ref)
                    .unwrap()
                    .is_some());

                let tree = ag.export_ratchet_tree().into();
                let mut bg = bp
                    .storage
                    .transaction(|_| -> std::result::Result<_, StorageError> {
                        Ok(
                            StagedWelcome::new_from_welcome(&bp, &join, welcome, Some(tree))
                                .unwrap()
                                .into_group(&bp)
                                .unwrap(),
                        )
                    })
                    .unwrap();
                send_and_receive((&ap, &alice.signer, &mut ag), (&bp, &mut bg), b"joined");
            }
        }

        /// `MlsGroup::delete` goes through the trait; the deletion reaches the file.
        #[test]
        fn group_deletion_is_persisted() {
            let dir = TempDir::new();
            let path = dir.file("alice.db");
            let group_id = {
                let ap = provider(open(&path));
                let alice = member(&ap, "alice");
                let config = MlsGroupCreateConfig::builder().ciphersuite(SUITE).build();
                let mut ag =
                    MlsGroup::new(&ap, &alice.signer, &config, alice.credential.clone()).unwrap();
                let group_id = ag.group_id().clone();
                ap.storage.begin().unwrap();
                ag.delete(ap.storage()).unwrap();
                // Harmless after MlsGroup::delete; it would catch older epochs' keys.
                ap.storage.delete_group(&group_id).unwrap();
                ap.storage.commit().unwrap();
                group_id
            };
            let ap = provider(open(&path));
            assert!(MlsGroup::load(ap.storage(), &group_id).unwrap().is_none());
            // Only the signature key pair is left.
            assert_eq!(row_count(&path), 1);
        }
    }
}
