//! A client: one member identity (credential and signature key), one ciphersuite, and
//! the state store holding its key packages and groups.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use openmls::treesync::EncryptionKey;

use openmls::prelude::*;
use openmls::schedule::{ExternalPsk, PreSharedKeyId, Psk};
use openmls_traits::storage::StorageProvider as _;
use pyo3::prelude::*;
use pyo3::types::PyBytes;
use tls_codec::{Deserialize as _, Serialize as _};

use crate::credentials::{Credential, SignatureKeyPair, SigningKey};
use crate::error::{classify, detach, guard, relock, Error, Result};
use crate::group::{extensions_from_pairs, CommitBytes, CommitResult, Group, GroupConfig};
use crate::key_packages::KeyPackage;
use crate::provider::Provider;
use crate::storage::SqliteOptions;
use crate::types::{py_suite, suite_from_u16, BytesIn};
use crate::welcome::{StagedWelcomeOut, WelcomeInput};

/// Default key package lifetime: 28 days (RCS refreshes credentials every 30 days).
pub const DEFAULT_KEY_PACKAGE_LIFETIME: u64 = 28 * 24 * 3600;

pub struct ClientCore {
    pub provider: Provider,
    pub signer: Arc<SigningKey>,
    pub credential: CredentialWithKey,
    pub suite: Ciphersuite,
    pub capabilities: Capabilities,
    /// Serialises the public operations of one client: each is one store transaction.
    /// Shared with the client's archive views ([`ClientCore::archive_view`]): they
    /// use the same store and its transactions.
    pub op_lock: Arc<Mutex<()>>,
    /// Unique in the process (never reused, unlike an address): keys this client's
    /// entries in process-wide caches, which are evicted when the client is dropped.
    pub id: u64,
}

impl Drop for ClientCore {
    fn drop(&mut self) {
        crate::rcs_gaps::evict_cached_secrets(self.id, None);
    }
}

fn next_client_id() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// App-record prefixes in the store (beside OpenMLS's own records).
const GROUP_PREFIX: &[u8] = b"group/";
const KEY_PACKAGE_PREFIX: &[u8] = b"kp/";
const IDENTITY_KEY: &[u8] = b"identity";
/// The index of archived groups: `archive/ ‖ u16 len(name) ‖ name ‖ group id`.
const ARCHIVE_PREFIX: &[u8] = b"archive/";

pub fn group_record_key(group_id: &[u8]) -> Vec<u8> {
    [GROUP_PREFIX, group_id].concat()
}

fn archive_record_key(name: &[u8], group_id: &[u8]) -> Result<Vec<u8>> {
    let len = u16::try_from(name.len()).map_err(|_| {
        Error::InvalidArgument("archive name too long (65535 bytes at most)".into())
    })?;
    Ok([ARCHIVE_PREFIX, &len.to_be_bytes(), name, group_id].concat())
}

impl ClientCore {
    /// This client as seen from the archive `name` of its store (see
    /// [`crate::storage::KvStorage::archive`]): same identity, same store and lock, the
    /// archive's key space. A fresh id keeps its cached secrets apart from the
    /// client's own (the same group id lives in both).
    fn archive_view(&self, name: &[u8]) -> ClientCore {
        ClientCore {
            provider: Provider::with_storage(self.provider.storage().archive(name)),
            signer: Arc::clone(&self.signer),
            credential: self.credential.clone(),
            suite: self.suite,
            capabilities: self.capabilities.clone(),
            op_lock: Arc::clone(&self.op_lock),
            id: next_client_id(),
        }
    }

    /// Move the group `group_id` into the archive `name` (inside the caller's
    /// transaction): its state and version record leave the client's own key space,
    /// where the group id is free again.
    pub(crate) fn archive_group(&self, group_id: &[u8], name: &[u8]) -> Result<()> {
        let storage = self.provider.storage();
        let record = group_record_key(group_id);
        if storage.get_app(&record)?.is_none() {
            return Err(Error::InvalidArgument(
                "no such group in this client's store".into(),
            ));
        }
        let index = archive_record_key(name, group_id)?;
        if storage.get_app(&index)?.is_some() {
            return Err(Error::InvalidArgument(
                "this archive holds a group of this id already".into(),
            ));
        }
        let archive = storage.archive(name);
        storage.move_group(&GroupId::from_slice(group_id), &[&record], &archive)?;
        storage.put_app(&index, b"")?;
        crate::rcs_gaps::evict_cached_secrets(self.id, Some(group_id));
        Ok(())
    }

    /// Move the group `group_id` of the archive `name` back into the client's own key
    /// space (inside the caller's transaction), erasing a group of that id there first
    /// when `replace`. It gets a fresh version record: handles opened on it before it
    /// was archived reload it.
    fn restore_archived_group(&self, name: &[u8], group_id: &[u8], replace: bool) -> Result<()> {
        let storage = self.provider.storage();
        let index = archive_record_key(name, group_id)?;
        if storage.get_app(&index)?.is_none() {
            return Err(Error::InvalidArgument(
                "no such group in this archive".into(),
            ));
        }
        if self.holds_group(group_id)? {
            if !replace {
                return Err(Error::InvalidArgument(
                    "this client holds a group of this id (replace=True erases it)".into(),
                ));
            }
            self.erase_group(group_id)?;
        }
        let record = group_record_key(group_id);
        let archive = storage.archive(name);
        archive.delete_app(&record)?;
        archive.move_group(&GroupId::from_slice(group_id), &[], storage)?;
        storage.put_app(&record, &crate::durability::fresh_version())?;
        storage.delete_app(&index)?;
        crate::rcs_gaps::evict_cached_secrets(self.id, Some(group_id));
        Ok(())
    }

    /// Whether this client's key space holds the group `group_id`.
    pub(crate) fn holds_group(&self, group_id: &[u8]) -> Result<bool> {
        Ok(self
            .provider
            .storage()
            .get_app(&group_record_key(group_id))?
            .is_some())
    }

    /// Erase the group `group_id` of the archive `name` (inside the caller's transaction).
    fn delete_archived_group(&self, name: &[u8], group_id: &[u8]) -> Result<()> {
        let storage = self.provider.storage();
        let index = archive_record_key(name, group_id)?;
        if storage.get_app(&index)?.is_none() {
            return Err(Error::InvalidArgument(
                "no such group in this archive".into(),
            ));
        }
        let view = self.archive_view(name);
        let archive = view.provider.storage();
        let gid = GroupId::from_slice(group_id);
        if let Some(mut g) = MlsGroup::load(archive, &gid).map_err(Error::from)? {
            g.delete(archive).map_err(Error::from)?;
        }
        archive.delete_group(&gid)?;
        archive.delete_app(&group_record_key(group_id))?;
        storage.delete_app(&index)?;
        Ok(())
    }

    /// Load the group `group_id` of this client's key space with its version.
    fn load(&self, group_id: &[u8]) -> Result<(MlsGroup, Vec<u8>)> {
        let missing = || Error::InvalidArgument("no such group in this client's store".into());
        // The version and the group come from the same view of the store (under the
        // client's lock): the handle knows which state it holds.
        let version = self
            .provider
            .storage()
            .get_app(&group_record_key(group_id))?
            .ok_or_else(missing)?;
        let group = MlsGroup::load(self.provider.storage(), &GroupId::from_slice(group_id))
            .map_err(|e| Error::Storage(format!("{e:?}")))?
            .ok_or_else(missing)?;
        Ok((group, version))
    }

    pub(crate) fn join_config(config: Option<&GroupConfig>) -> MlsGroupJoinConfig {
        config.cloned().unwrap_or_default().join_config()
    }

    /// One public operation: serialised per client and atomic in the store. `f` is
    /// told whether another connection changed the store (reload what you hold).
    pub fn run<T>(&self, f: impl FnOnce(bool) -> Result<T>) -> Result<T> {
        self.run_keep(f, |_| true)
    }

    /// Like [`Self::run`]; a result for which `keep` says false leaves the store as it was.
    pub fn run_keep<T>(
        &self,
        f: impl FnOnce(bool) -> Result<T>,
        keep: impl FnOnce(&T) -> bool,
    ) -> Result<T> {
        let _guard = relock(&self.op_lock);
        self.provider.atomic_keep(f, keep)
    }

    /// Serialised with the operations, outside a transaction (reads, reloads).
    pub fn run_plain<T>(&self, f: impl FnOnce() -> Result<T>) -> Result<T> {
        let _guard = relock(&self.op_lock);
        guard(f)
    }

    /// Delete a group from the store (its secrets erased) and from the caches.
    pub fn delete_group(&self, group_id: &[u8]) -> Result<()> {
        self.run(|_| {
            if self
                .provider
                .storage()
                .get_app(&group_record_key(group_id))?
                .is_none()
            {
                return Err(Error::InvalidArgument(
                    "no such group in this client's store".into(),
                ));
            }
            self.erase_group(group_id)
        })
    }

    /// Erase a group's state and record (inside the caller's transaction), and forget
    /// its cached secrets.
    pub fn erase_group(&self, group_id: &[u8]) -> Result<()> {
        let gid = GroupId::from_slice(group_id);
        let storage = self.provider.storage();
        if let Some(mut g) = MlsGroup::load(storage, &gid).map_err(Error::from)? {
            g.delete(storage).map_err(Error::from)?;
        }
        storage.delete_group(&gid)?;
        storage.delete_app(&group_record_key(group_id))?;
        // Only a cache: evicting it is right even if the transaction rolls back.
        crate::rcs_gaps::evict_cached_secrets(self.id, Some(group_id));
        crate::conversation_store::erase(self, group_id)
    }

    /// Record a group that has just entered the store; returns its version (see
    /// [`crate::durability`]).
    pub fn record_group(&self, group: &MlsGroup) -> Result<Vec<u8>> {
        let version = crate::durability::fresh_version();
        self.provider
            .storage()
            .put_app(&group_record_key(group.group_id().as_slice()), &version)?;
        Ok(version)
    }
}

/// Open the store at `location`: a PostgreSQL URL (`postgresql://…`) or an SQLite path.
fn open_store(location: &std::path::Path, busy_timeout: f64, create: bool) -> Result<Provider> {
    if !(0.0..=3600.0).contains(&busy_timeout) {
        return Err(Error::InvalidArgument(
            "busy_timeout must be 0..3600 seconds".into(),
        ));
    }
    let timeout = std::time::Duration::from_secs_f64(busy_timeout);
    match location.to_str() {
        Some(url) if crate::pg_storage::is_postgres_url(url) => {
            let options = crate::pg_storage::PgOptions {
                lock_timeout: timeout,
                create,
            };
            Provider::open_postgres(url, options)
        }
        _ => {
            let options = SqliteOptions {
                busy_timeout: timeout,
                create,
            };
            Provider::open(location, options)
        }
    }
}

/// `(credential, signature public key, ciphersuite)` of a stored identity.
type IdentityInfo = (Credential, Py<PyBytes>, Py<PyAny>);

#[derive(serde::Serialize, serde::Deserialize)]
struct IdentityRecord {
    credential: Vec<u8>,
    signature_keys: Vec<u8>,
    ciphersuite: u16,
    extension_types: Vec<u16>,
    proposal_types: Vec<u16>,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct KeyPackageRecord {
    not_after: u64,
    last_resort: bool,
}

/// One MLS client (a device): identity, signature key, ciphersuite and state.
#[pyclass(frozen, module = "rcs_mls._native", name = "Client")]
pub struct Client {
    pub core: Arc<ClientCore>,
}

fn build_core(
    provider: Provider,
    credential: &Credential,
    signature_keys: &SignatureKeyPair,
    ciphersuite: u16,
    extension_types: &[u16],
    proposal_types: &[u16],
) -> Result<ClientCore> {
    let suite = suite_from_u16(ciphersuite)?;
    if suite.signature_algorithm() != signature_keys.scheme() {
        return Err(Error::InvalidArgument(format!(
            "the signature key is {} but ciphersuite 0x{ciphersuite:04x} signs with {}",
            crate::types::scheme_name(signature_keys.scheme()),
            crate::types::scheme_name(suite.signature_algorithm())
        )));
    }
    credential.check_key(signature_keys.inner.public())?;
    // last_resort (RFC 9420 §17.3) is always supported: RCS keeps one such key package.
    let mut ext: Vec<ExtensionType> = vec![ExtensionType::LastResort];
    for t in extension_types {
        let t: ExtensionType = (*t).into();
        if !ext.contains(&t) {
            ext.push(t);
        }
    }
    let props: Vec<ProposalType> = proposal_types.iter().map(|t| (*t).into()).collect();
    let capabilities = Capabilities::new(
        None,
        Some(&[suite]),
        Some(&ext),
        if props.is_empty() { None } else { Some(&props) },
        Some(&[CredentialType::Basic, CredentialType::X509]),
    );
    Ok(ClientCore {
        provider,
        signer: signature_keys.inner.clone(),
        credential: CredentialWithKey {
            credential: credential.inner.clone(),
            signature_key: signature_keys.inner.public().into(),
        },
        suite,
        capabilities,
        op_lock: Arc::new(Mutex::new(())),
        id: next_client_id(),
    })
}

fn parse_ratchet_tree(data: Option<&[u8]>) -> Result<Option<RatchetTreeIn>> {
    data.map(|d| {
        RatchetTreeIn::tls_deserialize_exact(d)
            .map_err(|e| Error::Parse(format!("not a ratchet tree: {e}")))
    })
    .transpose()
}

#[pymethods]
impl Client {
    /// A client for `credential`, signing with `signature_keys`, in `ciphersuite`, with
    /// its state in memory (see :meth:`open` for a persistent store).
    ///
    /// `extension_types` and `proposal_types` are the non-default extensions and
    /// proposals this client supports (its leaf capabilities).
    #[new]
    #[pyo3(signature = (credential, signature_keys, ciphersuite, *, extension_types=Vec::new(), proposal_types=Vec::new()))]
    fn new(
        credential: PyRef<'_, Credential>,
        signature_keys: PyRef<'_, SignatureKeyPair>,
        ciphersuite: u16,
        extension_types: Vec<u16>,
        proposal_types: Vec<u16>,
    ) -> PyResult<Self> {
        let core = build_core(
            Provider::in_memory(),
            &credential,
            &signature_keys,
            ciphersuite,
            &extension_types,
            &proposal_types,
        )?;
        Ok(Self {
            core: Arc::new(core),
        })
    }

    /// Open (or create) a client whose state lives in the SQLite file `path`, or in
    /// PostgreSQL when `path` is a URL (``postgresql://user:password@host/db``,
    /// optionally ``?schema=name``: one schema per client).
    ///
    /// A new store needs `credential`, `signature_keys` and `ciphersuite`, which it
    /// keeps; an existing one reloads them (if given, they must be the stored ones).
    /// Raises StorageError for a file or schema that is not an rcs-mls store, a store
    /// from a newer version, an unreachable server, or a store still locked by
    /// another worker after `busy_timeout` seconds.
    #[staticmethod]
    #[pyo3(signature = (path, credential=None, signature_keys=None, ciphersuite=None, *, extension_types=Vec::new(), proposal_types=Vec::new(), busy_timeout=5.0))]
    #[allow(clippy::too_many_arguments)]
    fn open(
        py: Python<'_>,
        path: PathBuf,
        credential: Option<PyRef<'_, Credential>>,
        signature_keys: Option<PyRef<'_, SignatureKeyPair>>,
        ciphersuite: Option<u16>,
        extension_types: Vec<u16>,
        proposal_types: Vec<u16>,
        busy_timeout: f64,
    ) -> PyResult<Self> {
        let provider = detach(py, || open_store(&path, busy_timeout, true))?;
        let stored = provider
            .storage()
            .get_app(IDENTITY_KEY)
            .map_err(Error::from)?
            .map(|b| {
                serde_json::from_slice::<IdentityRecord>(&b)
                    .map_err(|e| Error::Storage(format!("the stored identity is corrupted: {e}")))
            })
            .transpose()?;
        let core = match (stored, credential, signature_keys, ciphersuite) {
            (Some(rec), cred, keys, suite) => {
                let stored_cred = Credential {
                    inner: openmls::prelude::Credential::tls_deserialize_exact(&rec.credential)
                        .map_err(|e| {
                            Error::Storage(format!("the stored credential is corrupted: {e}"))
                        })?,
                };
                let stored_keys = SignatureKeyPair::from_stored(&rec.signature_keys)?;
                if cred.as_ref().is_some_and(|c| c.inner != stored_cred.inner)
                    || keys
                        .as_ref()
                        .is_some_and(|k| k.inner.public() != stored_keys.inner.public())
                    || suite.is_some_and(|s| s != rec.ciphersuite)
                {
                    return Err(Error::InvalidArgument(
                        "this store belongs to another identity or ciphersuite".into(),
                    )
                    .into());
                }
                build_core(
                    provider,
                    &stored_cred,
                    &stored_keys,
                    rec.ciphersuite,
                    &rec.extension_types,
                    &rec.proposal_types,
                )?
            }
            (None, Some(cred), Some(keys), Some(suite)) => {
                let core = build_core(
                    provider,
                    &cred,
                    &keys,
                    suite,
                    &extension_types,
                    &proposal_types,
                )?;
                let rec = IdentityRecord {
                    credential: cred
                        .inner
                        .tls_serialize_detached()
                        .map_err(|e| Error::Library(e.to_string()))?,
                    signature_keys: keys.export()?,
                    ciphersuite: suite,
                    extension_types: extension_types.clone(),
                    proposal_types: proposal_types.clone(),
                };
                let bytes = serde_json::to_vec(&rec).map_err(|e| Error::Library(e.to_string()))?;
                core.run(|_| Ok(core.provider.storage().put_app(IDENTITY_KEY, &bytes)?))?;
                core
            }
            (None, ..) => {
                return Err(Error::InvalidArgument(
                    "a new store needs credential, signature_keys and ciphersuite".into(),
                )
                .into())
            }
        };
        Ok(Self {
            core: Arc::new(core),
        })
    }

    /// The identities kept in the store at `path` (an SQLite file or a PostgreSQL
    /// URL), as ``(credential, signature_public_key, ciphersuite)``: one per store (a
    /// store is one device). Opening does not create the store; raises StorageError if
    /// it is not one.
    #[staticmethod]
    fn list_identities(py: Python<'_>, path: PathBuf) -> PyResult<Vec<IdentityInfo>> {
        let provider = detach(py, || open_store(&path, 5.0, false))?;
        let Some(bytes) = provider
            .storage()
            .get_app(IDENTITY_KEY)
            .map_err(Error::from)?
        else {
            return Ok(Vec::new());
        };
        let rec: IdentityRecord = serde_json::from_slice(&bytes)
            .map_err(|e| Error::Storage(format!("the stored identity is corrupted: {e}")))?;
        let credential = Credential {
            inner: openmls::prelude::Credential::tls_deserialize_exact(&rec.credential)
                .map_err(|e| Error::Storage(format!("the stored credential is corrupted: {e}")))?,
        };
        let keys = SignatureKeyPair::from_stored(&rec.signature_keys)
            .map_err(|e| Error::Storage(format!("the stored signature key is corrupted: {e}")))?;
        let suite = py_suite(py, suite_from_u16(rec.ciphersuite)?)?;
        Ok(vec![(
            credential,
            PyBytes::new(py, keys.inner.public()).unbind(),
            suite,
        )])
    }

    /// The SQLite file of this client's store, or None in memory or in PostgreSQL.
    #[getter]
    fn path(&self) -> Option<PathBuf> {
        self.core.provider.storage().path()
    }

    /// Where this client's state lives: the SQLite path, or the PostgreSQL URL
    /// (without its password, with its schema); None in memory.
    #[getter]
    fn store_location(&self) -> Option<String> {
        self.core.provider.storage().location()
    }

    #[getter]
    fn ciphersuite(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        py_suite(py, self.core.suite)
    }

    #[getter]
    fn credential(&self) -> Credential {
        Credential {
            inner: self.core.credential.credential.clone(),
        }
    }

    #[getter]
    fn identity<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        Ok(PyBytes::new(
            py,
            &Credential::identity_bytes(&self.core.credential.credential)?,
        ))
    }

    #[getter]
    fn signature_public_key<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, self.core.signer.public())
    }

    /// Generate one key package; its private keys stay in this client's store.
    ///
    /// `lifetime` gives an explicit ``(not_before, not_after)`` in Unix seconds (e.g.
    /// within a certificate's validity) instead of `lifetime_seconds` from now.
    #[pyo3(signature = (*, lifetime_seconds=DEFAULT_KEY_PACKAGE_LIFETIME, lifetime=None, last_resort=false, extensions=Vec::new(), leaf_extensions=Vec::new()))]
    fn generate_key_package(
        &self,
        py: Python<'_>,
        lifetime_seconds: u64,
        lifetime: Option<(u64, u64)>,
        last_resort: bool,
        extensions: Vec<(u16, Vec<u8>)>,
        leaf_extensions: Vec<(u16, Vec<u8>)>,
    ) -> PyResult<KeyPackage> {
        let mut v = self.generate_key_packages(
            py,
            1,
            lifetime_seconds,
            lifetime,
            last_resort,
            extensions,
            leaf_extensions,
        )?;
        v.pop()
            .ok_or_else(|| Error::Library("no key package generated".into()).into())
    }

    /// Generate `count` key packages at once.
    #[pyo3(signature = (count, *, lifetime_seconds=DEFAULT_KEY_PACKAGE_LIFETIME, lifetime=None, last_resort=false, extensions=Vec::new(), leaf_extensions=Vec::new()))]
    #[allow(clippy::too_many_arguments)]
    fn generate_key_packages(
        &self,
        py: Python<'_>,
        count: usize,
        lifetime_seconds: u64,
        lifetime: Option<(u64, u64)>,
        last_resort: bool,
        extensions: Vec<(u16, Vec<u8>)>,
        leaf_extensions: Vec<(u16, Vec<u8>)>,
    ) -> PyResult<Vec<KeyPackage>> {
        if lifetime_seconds == 0 {
            return Err(Error::InvalidArgument("lifetime_seconds must be positive".into()).into());
        }
        if let Some((nb, na)) = lifetime {
            if na <= nb {
                return Err(Error::InvalidArgument(
                    "lifetime: not_after must be after not_before".into(),
                )
                .into());
            }
        }
        let kp_exts = Extensions::from_vec(extensions_from_pairs(&extensions)?)
            .map_err(|e| Error::InvalidArgument(format!("key package extensions: {e}")))?;
        let leaf_exts = Extensions::from_vec(extensions_from_pairs(&leaf_extensions)?)
            .map_err(|e| Error::InvalidArgument(format!("leaf extensions: {e}")))?;
        let core = self.core.clone();
        let kps = detach(py, move || -> Result<Vec<KeyPackage>> {
            core.run(|_| {
                generate(
                    &core,
                    count,
                    lifetime_seconds,
                    lifetime,
                    last_resort,
                    &kp_exts,
                    &leaf_exts,
                )
            })
        })?;
        Ok(kps)
    }

    /// Key packages of this client not yet used by a Welcome (their private keys are
    /// in the store), for re-publishing.
    fn list_key_packages(&self, py: Python<'_>) -> PyResult<Vec<KeyPackage>> {
        let core = self.core.clone();
        Ok(
            detach(py, move || core.run_plain(|| unused_key_packages(&core)))?
                .into_iter()
                .map(|(kp, _)| kp)
                .collect(),
        )
    }

    /// Forget used key packages and erase expired ones (private keys included);
    /// returns how many records were removed.
    fn prune_key_packages(&self, py: Python<'_>) -> PyResult<usize> {
        let core = self.core.clone();
        Ok(detach(py, move || core.run(|_| prune(&core)))?)
    }

    /// Prune, then generate key packages until `count` unused ordinary ones exist and,
    /// with `last_resort`, one unused last-resort one; returns the new ones to publish.
    #[pyo3(signature = (count, *, lifetime_seconds=DEFAULT_KEY_PACKAGE_LIFETIME, last_resort=true))]
    fn top_up_key_packages(
        &self,
        py: Python<'_>,
        count: usize,
        lifetime_seconds: u64,
        last_resort: bool,
    ) -> PyResult<Vec<KeyPackage>> {
        let core = self.core.clone();
        Ok(detach(py, move || {
            core.run(|_| {
                prune(&core)?;
                let unused = unused_key_packages(&core)?;
                let ordinary = unused.iter().filter(|(_, lr)| !lr).count();
                let has_lr = unused.iter().any(|(_, lr)| *lr);
                let none = Extensions::empty();
                let mut new = generate(
                    &core,
                    count.saturating_sub(ordinary),
                    lifetime_seconds,
                    None,
                    false,
                    &none,
                    &Extensions::empty(),
                )?;
                if last_resort && !has_lr {
                    new.extend(generate(
                        &core,
                        1,
                        lifetime_seconds,
                        None,
                        true,
                        &none,
                        &Extensions::empty(),
                    )?);
                }
                Ok(new)
            })
        })?)
    }

    /// The ids of the groups in this client's store.
    fn list_groups<'py>(&self, py: Python<'py>) -> PyResult<Vec<Bound<'py, PyBytes>>> {
        let core = self.core.clone();
        let ids = detach(py, move || {
            core.run_plain(|| Ok(core.provider.storage().list_app(GROUP_PREFIX)?))
        })?;
        Ok(ids
            .into_iter()
            .map(|(k, _)| PyBytes::new(py, &k[GROUP_PREFIX.len()..]))
            .collect())
    }

    /// Delete a group and erase its secrets from the store. Group objects still open
    /// on it raise GroupStateError afterwards.
    fn delete_group(&self, py: Python<'_>, group_id: BytesIn) -> PyResult<()> {
        let core = self.core.clone();
        detach(py, move || core.delete_group(&group_id))?;
        Ok(())
    }

    /// Create a group with this client as its only member.
    ///
    /// ``archive_previous``: a group of this ``group_id`` the client holds is moved into
    /// this archive of the store (see :meth:`archive_group`) in the same transaction as
    /// the creation: a conversation's new era, its previous one kept for late messages.
    ///
    /// Raises:
    ///     InvalidArgumentError: an empty ``group_id``, ``archive_previous`` without a
    ///         ``group_id``, or the archive holds a group of this id already.
    ///     GroupStateError: the client holds a group of this id (and nothing is archived).
    #[pyo3(signature = (config=None, *, group_id=None, archive_previous=None))]
    fn create_group(
        &self,
        py: Python<'_>,
        config: Option<PyRef<'_, GroupConfig>>,
        group_id: Option<BytesIn>,
        archive_previous: Option<BytesIn>,
    ) -> PyResult<Group> {
        let cfg = config.map(|c| c.clone()).unwrap_or_default();
        let gce = cfg.context_extensions()?;
        let gid = group_id.map(|g| g.to_vec());
        if let Some(g) = &gid {
            if g.is_empty() {
                return Err(Error::InvalidArgument("group_id must not be empty".into()).into());
            }
        }
        if archive_previous.is_some() && gid.is_none() {
            return Err(Error::InvalidArgument(
                "archive_previous needs the group_id of the group it replaces".into(),
            )
            .into());
        }
        let core = self.core.clone();
        let (group, version) = detach(py, || -> Result<(MlsGroup, Vec<u8>)> {
            let mut b = MlsGroup::builder()
                .ciphersuite(core.suite)
                .with_wire_format_policy(cfg.wire_format_policy())
                .use_ratchet_tree_extension(cfg.use_ratchet_tree_extension)
                .max_past_epochs(cfg.max_past_epochs)
                .padding_size(cfg.padding_size)
                .number_of_resumption_psks(cfg.number_of_resumption_psks)
                .sender_ratchet_configuration(SenderRatchetConfiguration::new(
                    cfg.out_of_order_tolerance,
                    cfg.maximum_forward_distance,
                ))
                .with_capabilities(core.capabilities.clone())
                .with_group_context_extensions(gce);
            if let Some(g) = &gid {
                b = b.with_group_id(GroupId::from_slice(g));
            }
            core.run(|_| {
                if let (Some(name), Some(g)) = (&archive_previous, &gid) {
                    if core.holds_group(g)? {
                        core.archive_group(g, name)?;
                    }
                }
                let g = b
                    .build(&core.provider, &*core.signer, core.credential.clone())
                    .map_err(classify)?;
                let version = core.record_group(&g)?;
                Ok((g, version))
            })
        })?;
        Ok(Group::at(self.core.clone(), group, version))
    }

    /// Join a group from a Welcome (MLSMessage bytes), with the ratchet tree given out
    /// of band when the group does not use the ratchet-tree extension.
    ///
    /// `verify_leaf_lifetimes=False` accepts members whose leaf (never updated since
    /// their key package) has outlived its lifetime; RFC 9420 checks lifetimes when a
    /// member is added, and long-lived groups may carry such leaves.
    #[pyo3(signature = (welcome, *, ratchet_tree=None, config=None, verify_leaf_lifetimes=true, replace_group=false))]
    fn join_group(
        &self,
        py: Python<'_>,
        welcome: BytesIn,
        ratchet_tree: Option<BytesIn>,
        config: Option<PyRef<'_, GroupConfig>>,
        verify_leaf_lifetimes: bool,
        replace_group: bool,
    ) -> PyResult<Group> {
        let input = WelcomeInput {
            welcome: welcome.to_vec(),
            ratchet_tree: ratchet_tree.map(|t| t.to_vec()),
            join_config: ClientCore::join_config(config.as_deref()),
            verify_leaf_lifetimes,
            replace_group,
        };
        let core = self.core.clone();
        let (group, version) = detach(py, || crate::welcome::join(&core, &input))?;
        Ok(Group::at(self.core.clone(), group, version))
    }

    /// Process a Welcome without joining: the returned :class:`StagedWelcome` shows the
    /// group's members (credentials, signature keys) and extensions, so that they can
    /// be checked before :meth:`StagedWelcome.join` stores anything. Arguments as for
    /// :meth:`join_group`; ``replace_group=True`` lets the join replace a group of the
    /// same id this client holds (erased in the join's transaction): a re-created group.
    #[pyo3(signature = (welcome, *, ratchet_tree=None, config=None, verify_leaf_lifetimes=true, replace_group=false))]
    fn stage_welcome(
        &self,
        py: Python<'_>,
        welcome: BytesIn,
        ratchet_tree: Option<BytesIn>,
        config: Option<PyRef<'_, GroupConfig>>,
        verify_leaf_lifetimes: bool,
        replace_group: bool,
    ) -> PyResult<StagedWelcomeOut> {
        let input = WelcomeInput {
            welcome: welcome.to_vec(),
            ratchet_tree: ratchet_tree.map(|t| t.to_vec()),
            join_config: ClientCore::join_config(config.as_deref()),
            verify_leaf_lifetimes,
            replace_group,
        };
        StagedWelcomeOut::stage(py, self.core.clone(), input)
    }

    /// Join a group by external commit from its GroupInfo (MLSMessage bytes).
    ///
    /// Returns the group, already in the new epoch (OpenMLS applies an external commit
    /// on the joiner's side at once), and the commit to send to the other members. If
    /// the delivery service rejects the commit, drop the group and join again.
    ///
    /// ``replace_group=True`` replaces a group of the same id this client holds (a device
    /// rejoining after it fell behind): the old group is erased in the same transaction,
    /// so it is kept if the join fails.
    #[pyo3(signature = (group_info, *, ratchet_tree=None, config=None, authenticated_data=None, replace_group=false))]
    fn join_by_external_commit(
        &self,
        py: Python<'_>,
        group_info: BytesIn,
        ratchet_tree: Option<BytesIn>,
        config: Option<PyRef<'_, GroupConfig>>,
        authenticated_data: Option<BytesIn>,
        replace_group: bool,
    ) -> PyResult<(Group, CommitResult)> {
        let join_config = ClientCore::join_config(config.as_deref());
        let aad = authenticated_data.map(|a| a.to_vec()).unwrap_or_default();
        let core = self.core.clone();
        let (group, commit, version) =
            detach(py, || -> Result<(MlsGroup, CommitBytes, Vec<u8>)> {
                let msg = MlsMessageIn::tls_deserialize_exact(&*group_info)
                    .map_err(|e| Error::Parse(format!("not an MLSMessage: {e}")))?;
                let gi = match msg.extract() {
                    MlsMessageBodyIn::GroupInfo(gi) => gi,
                    _ => {
                        return Err(Error::InvalidArgument(
                            "the MLSMessage is not a GroupInfo".into(),
                        ))
                    }
                };
                let tree = parse_ratchet_tree(ratchet_tree.as_deref())?;
                core.run(|_| {
                    if replace_group {
                        core.erase_group(gi.group_id().as_slice())?;
                    }
                    let mut b = MlsGroup::external_commit_builder()
                        .with_config(join_config)
                        .with_aad(aad);
                    if let Some(t) = tree {
                        b = b.with_ratchet_tree(t);
                    }
                    let (group, bundle) = b
                        .build_group(&core.provider, gi, core.credential.clone())
                        .map_err(classify)?
                        .leaf_node_parameters(
                            LeafNodeParameters::builder()
                                .with_capabilities(core.capabilities.clone())
                                .build(),
                        )
                        .load_psks(core.provider.storage())
                        .map_err(classify)?
                        .build(
                            core.provider.rand(),
                            core.provider.crypto(),
                            &*core.signer,
                            |_| true,
                        )
                        .map_err(classify)?
                        .finalize(&core.provider)
                        .map_err(classify)?;
                    let version = core.record_group(&group)?;
                    Ok((group, CommitBytes::from_bundle(bundle)?, version))
                })
            })?;
        Ok((
            Group::at(self.core.clone(), group, version),
            commit.into_py(py),
        ))
    }

    /// Store an external pre-shared key, for PSK proposals (RFC 9420 §8.4).
    fn store_psk(&self, py: Python<'_>, psk_id: BytesIn, secret: BytesIn) -> PyResult<()> {
        if psk_id.is_empty() || secret.is_empty() {
            return Err(
                Error::InvalidArgument("psk_id and secret must not be empty".into()).into(),
            );
        }
        let core = self.core.clone();
        detach(py, || -> Result<()> {
            // The nonce is not part of the storage key; any will do here.
            let id = PreSharedKeyId::new(
                core.suite,
                core.provider.rand(),
                Psk::External(ExternalPsk::new(psk_id.to_vec())),
            )
            .map_err(|e| Error::Library(format!("{e:?}")))?;
            core.run(|_| {
                id.store(&core.provider, &secret)
                    .map_err(|e| Error::Storage(format!("{e:?}")))
            })
        })?;
        Ok(())
    }

    /// Load a group of this client's from its store by group id.
    ///
    /// Every call returns a new handle. Handles on one group stay consistent: each
    /// operation first checks the group's version in the store and reloads the group if
    /// another handle, thread or process has changed it since.
    fn load_group(&self, py: Python<'_>, group_id: BytesIn) -> PyResult<Group> {
        let core = self.core.clone();
        let (group, version) = detach(py, || core.run_plain(|| core.load(&group_id)))?;
        Ok(Group::at(self.core.clone(), group, version))
    }

    /// Move the group ``group_id`` into the archive ``archive`` of this client's store:
    /// it leaves the client's groups (the id is free for a new group, e.g. a new era of
    /// a conversation), and :meth:`load_archived_group` opens it as it was, under its
    /// own id, for as long as it is kept. Group objects open on it must not be used
    /// any more.
    ///
    /// Raises:
    ///     InvalidArgumentError: no such group, or the archive holds one of this id.
    fn archive_group(&self, py: Python<'_>, group_id: BytesIn, archive: BytesIn) -> PyResult<()> {
        let core = self.core.clone();
        detach(py, move || {
            core.run(|_| core.archive_group(&group_id, &archive))
        })?;
        Ok(())
    }

    /// The group ``group_id`` kept in the archive ``archive`` (see :meth:`archive_group`).
    ///
    /// Raises:
    ///     InvalidArgumentError: the archive holds no such group.
    fn load_archived_group(
        &self,
        py: Python<'_>,
        archive: BytesIn,
        group_id: BytesIn,
    ) -> PyResult<Group> {
        let core = self.core.clone();
        let (view, group, version) = detach(py, || {
            core.run_plain(|| {
                let index = archive_record_key(&archive, &group_id)?;
                if core.provider.storage().get_app(&index)?.is_none() {
                    return Err(Error::InvalidArgument(
                        "no such group in this archive".into(),
                    ));
                }
                let view = Arc::new(core.archive_view(&archive));
                let (group, version) = view.load(&group_id)?;
                Ok((view, group, version))
            })
        })?;
        Ok(Group::at(view, group, version))
    }

    /// Move the group ``group_id`` of the archive ``archive`` back among the client's
    /// groups and return it (undoing :meth:`archive_group`, e.g. when the new group that
    /// replaced it is abandoned). ``replace=True`` erases a group of that id the client
    /// holds, in the same transaction.
    ///
    /// Raises:
    ///     InvalidArgumentError: the archive holds no such group, or the client holds a
    ///         group of this id and ``replace`` is false.
    #[pyo3(signature = (archive, group_id, *, replace=false))]
    fn restore_archived_group(
        &self,
        py: Python<'_>,
        archive: BytesIn,
        group_id: BytesIn,
        replace: bool,
    ) -> PyResult<Group> {
        let core = self.core.clone();
        let (group, version) = detach(py, || {
            core.run(|_| {
                core.restore_archived_group(&archive, &group_id, replace)?;
                core.load(&group_id)
            })
        })?;
        Ok(Group::at(self.core.clone(), group, version))
    }

    /// ``(archive, group_id)`` of every archived group, sorted.
    fn list_archived_groups<'py>(
        &self,
        py: Python<'py>,
    ) -> PyResult<Vec<(Bound<'py, PyBytes>, Bound<'py, PyBytes>)>> {
        let core = self.core.clone();
        let keys = detach(py, move || {
            core.run_plain(|| Ok(core.provider.storage().list_app(ARCHIVE_PREFIX)?))
        })?;
        let mut out = Vec::with_capacity(keys.len());
        for (key, _) in keys {
            let rest = &key[ARCHIVE_PREFIX.len()..];
            let corrupt = || Error::Storage("a corrupted archive index record".into());
            let len = rest.get(..2).ok_or_else(corrupt)?;
            let len = usize::from(u16::from_be_bytes([len[0], len[1]]));
            let name = rest.get(2..2 + len).ok_or_else(corrupt)?;
            let group_id = rest.get(2 + len..).ok_or_else(corrupt)?;
            out.push((PyBytes::new(py, name), PyBytes::new(py, group_id)));
        }
        Ok(out)
    }

    /// Erase the group ``group_id`` of the archive ``archive`` and its secrets.
    ///
    /// Raises:
    ///     InvalidArgumentError: the archive holds no such group.
    fn delete_archived_group(
        &self,
        py: Python<'_>,
        archive: BytesIn,
        group_id: BytesIn,
    ) -> PyResult<()> {
        let core = self.core.clone();
        detach(py, move || {
            core.run(|_| core.delete_archived_group(&archive, &group_id))
        })?;
        Ok(())
    }

    fn __repr__(&self) -> String {
        let id = Credential::identity_bytes(&self.core.credential.credential).unwrap_or_default();
        format!(
            "Client(identity={:?}, ciphersuite=0x{:04x})",
            String::from_utf8_lossy(&id),
            u16::from(self.core.suite)
        )
    }
}

fn unused_key_packages(core: &ClientCore) -> Result<Vec<(KeyPackage, bool)>> {
    let storage = core.provider.storage();
    let mut out = Vec::new();
    for (key, value) in storage.list_app(KEY_PACKAGE_PREFIX)? {
        let hash_ref = KeyPackageRef::tls_deserialize_exact(&key[KEY_PACKAGE_PREFIX.len()..])
            .map_err(|e| Error::Storage(format!("a key package record is corrupted: {e}")))?;
        let rec: KeyPackageRecord = serde_json::from_slice(&value)
            .map_err(|e| Error::Storage(format!("a key package record is corrupted: {e}")))?;
        let bundle: Option<KeyPackageBundle> = storage.key_package(&hash_ref)?;
        if let Some(b) = bundle {
            out.push((
                KeyPackage {
                    inner: b.key_package().clone(),
                },
                rec.last_resort,
            ));
        }
    }
    Ok(out)
}

fn prune(core: &ClientCore) -> Result<usize> {
    let storage = core.provider.storage();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let mut removed = 0;
    for (key, value) in storage.list_app(KEY_PACKAGE_PREFIX)? {
        let hash_ref = KeyPackageRef::tls_deserialize_exact(&key[KEY_PACKAGE_PREFIX.len()..])
            .map_err(|e| Error::Storage(format!("a key package record is corrupted: {e}")))?;
        let rec: KeyPackageRecord = serde_json::from_slice(&value)
            .map_err(|e| Error::Storage(format!("a key package record is corrupted: {e}")))?;
        let bundle: Option<KeyPackageBundle> = storage.key_package(&hash_ref)?;
        match bundle {
            None => {
                storage.delete_app(&key)?;
                removed += 1;
            }
            Some(b) if rec.not_after <= now => {
                let enc: &EncryptionKey = b.key_package().leaf_node().encryption_key();
                storage.delete_encryption_key_pair(enc)?;
                storage.delete_key_package(&hash_ref)?;
                storage.delete_app(&key)?;
                removed += 1;
            }
            Some(_) => {}
        }
    }
    Ok(removed)
}

#[allow(clippy::too_many_arguments)]
fn generate(
    core: &ClientCore,
    count: usize,
    lifetime_seconds: u64,
    lifetime: Option<(u64, u64)>,
    last_resort: bool,
    kp_exts: &Extensions<openmls::prelude::KeyPackage>,
    leaf_exts: &Extensions<LeafNode>,
) -> Result<Vec<KeyPackage>> {
    {
        {
            let mut out = Vec::with_capacity(count);
            for _ in 0..count {
                let mut b = openmls::prelude::KeyPackage::builder()
                    .key_package_lifetime(match lifetime {
                        Some((nb, na)) => Lifetime::init(nb, na),
                        None => Lifetime::new(lifetime_seconds),
                    })
                    .key_package_extensions(kp_exts.clone())
                    .leaf_node_capabilities(core.capabilities.clone())
                    .leaf_node_extensions(leaf_exts.clone());
                if last_resort {
                    b = b.mark_as_last_resort();
                }
                let bundle = b
                    .build(
                        core.suite,
                        &core.provider,
                        &*core.signer,
                        core.credential.clone(),
                    )
                    .map_err(classify)?;
                let kp = bundle.key_package().clone();
                let hash_ref = kp
                    .hash_ref(core.provider.crypto())
                    .map_err(|e| Error::Library(e.to_string()))?;
                let rec = KeyPackageRecord {
                    not_after: kp.life_time().not_after(),
                    last_resort,
                };
                let value = serde_json::to_vec(&rec).map_err(|e| Error::Library(e.to_string()))?;
                let ref_bytes = hash_ref
                    .tls_serialize_detached()
                    .map_err(|e| Error::Library(e.to_string()))?;
                core.provider
                    .storage()
                    .put_app(&[KEY_PACKAGE_PREFIX, &ref_bytes].concat(), &value)?;
                out.push(KeyPackage { inner: kp });
            }
            Ok(out)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn core(name: &[u8]) -> Result<ClientCore> {
        let suite = Ciphersuite::MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519;
        let credential = Credential {
            inner: BasicCredential::new(name.to_vec()).into(),
        };
        let keys = SignatureKeyPair {
            inner: Arc::new(SigningKey::generate(suite.signature_algorithm())?),
        };
        build_core(
            Provider::in_memory(),
            &credential,
            &keys,
            u16::from(suite),
            &[],
            &[],
        )
    }

    fn new_group(c: &ClientCore, id: &[u8]) -> Result<MlsGroup> {
        c.run(|_| {
            let g = MlsGroup::builder()
                .ciphersuite(c.suite)
                .with_group_id(GroupId::from_slice(id))
                .build(&c.provider, &*c.signer, c.credential.clone())
                .map_err(classify)?;
            c.record_group(&g)?;
            Ok(g)
        })
    }

    #[test]
    fn cached_secrets_are_evicted_on_delete_and_drop() -> Result<()> {
        let a = core(b"a")?;
        let b = core(b"b")?;
        assert_ne!(a.id, b.id);
        for (c, id) in [(&a, &b"g1"[..]), (&a, b"g2"), (&b, b"g1")] {
            let g = new_group(c, id)?;
            crate::rcs_gaps::cache_secrets_for_tests(&g, c)?;
        }
        assert_eq!(crate::rcs_gaps::cached_groups(a.id), 2);
        a.delete_group(b"g1")?;
        assert_eq!(crate::rcs_gaps::cached_groups(a.id), 1);
        assert_eq!(crate::rcs_gaps::cached_groups(b.id), 1);
        let a_id = a.id;
        drop(a);
        assert_eq!(crate::rcs_gaps::cached_groups(a_id), 0);
        assert_eq!(crate::rcs_gaps::cached_groups(b.id), 1);
        Ok(())
    }
}
