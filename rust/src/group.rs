//! MLS groups (RFC 9420 §12): configuration, commits, proposals, messages, inspection.
//!
//! A [`Group`] is a Python object safe to share between threads: the OpenMLS group
//! sits behind a mutex, and every call releases the GIL before it takes that mutex.

use std::sync::{Arc, Mutex, MutexGuard};

use openmls::ciphersuite::hash_ref::ProposalRef;
use openmls::messages::group_info::GroupInfo;
use openmls::prelude::*;
use openmls::schedule::{ExternalPsk, PreSharedKeyId, Psk};
use pyo3::prelude::*;
use pyo3::types::PyBytes;
use tls_codec::{Deserialize as _, Serialize as _, VLBytes};

use crate::client::ClientCore;
use crate::credentials::Credential;
use crate::error::{classify, detach, map_process, relock, Error, Result};
use crate::key_packages::KeyPackage;
use crate::types::{py_suite, BytesIn};

// ---------------------------------------------------------------------------------------
// Extensions as (type, data) pairs
// ---------------------------------------------------------------------------------------

/// Split extensions into `(extension_type, extension_data)` pairs (RFC 9420 §13).
pub fn extensions_to_pairs<'a>(
    exts: impl Iterator<Item = &'a Extension>,
) -> PyResult<Vec<(u16, Vec<u8>)>> {
    Ok(extensions_to_pairs_inner(exts)?)
}

/// [`extensions_to_pairs`] without the GIL.
pub fn extensions_to_pairs_inner<'a>(
    exts: impl Iterator<Item = &'a Extension>,
) -> Result<Vec<(u16, Vec<u8>)>> {
    let mut out = Vec::new();
    for ext in exts {
        let bytes = ext
            .tls_serialize_detached()
            .map_err(|e| Error::Library(e.to_string()))?;
        let mut rest: &[u8] = &bytes;
        let t = u16::tls_deserialize(&mut rest).map_err(|e| Error::Library(e.to_string()))?;
        let data =
            VLBytes::tls_deserialize(&mut rest).map_err(|e| Error::Library(e.to_string()))?;
        out.push((t, data.as_slice().to_vec()));
    }
    Ok(out)
}

/// Build extensions from `(extension_type, extension_data)` pairs; known types are
/// decoded (and so validated) by OpenMLS.
pub fn extensions_from_pairs(pairs: &[(u16, Vec<u8>)]) -> Result<Vec<Extension>> {
    let mut out = Vec::with_capacity(pairs.len());
    for (t, data) in pairs {
        let mut bytes = Vec::with_capacity(data.len() + 6);
        t.tls_serialize(&mut bytes)
            .and_then(|_| VLBytes::from(data.clone()).tls_serialize(&mut bytes))
            .map_err(|e| Error::InvalidArgument(format!("extension 0x{t:04x}: {e}")))?;
        let ext = Extension::tls_deserialize_exact(&bytes)
            .map_err(|e| Error::InvalidArgument(format!("extension 0x{t:04x}: {e}")))?;
        out.push(ext);
    }
    Ok(out)
}

fn gc_extensions(exts: Vec<Extension>) -> Result<Extensions<GroupContext>> {
    Extensions::from_vec(exts).map_err(|e| Error::InvalidArgument(format!("extensions: {e}")))
}

// ---------------------------------------------------------------------------------------
// Configuration
// ---------------------------------------------------------------------------------------

/// Group configuration: wire-format policy, ratchet-tree extension, past epochs,
/// sender-ratchet window, padding, required capabilities, group-context extensions.
#[pyclass(frozen, module = "rcs_mls._native", name = "GroupConfig")]
#[derive(Clone)]
pub struct GroupConfig {
    #[pyo3(get)]
    pub public_handshake: bool,
    #[pyo3(get)]
    pub use_ratchet_tree_extension: bool,
    #[pyo3(get)]
    pub max_past_epochs: usize,
    #[pyo3(get)]
    pub out_of_order_tolerance: u32,
    #[pyo3(get)]
    pub maximum_forward_distance: u32,
    #[pyo3(get)]
    pub padding_size: usize,
    #[pyo3(get)]
    pub number_of_resumption_psks: usize,
    #[pyo3(get)]
    pub required_extensions: Vec<u16>,
    #[pyo3(get)]
    pub required_proposals: Vec<u16>,
    #[pyo3(get)]
    pub required_credentials: Vec<u16>,
    #[pyo3(get)]
    pub group_context_extensions: Vec<(u16, Vec<u8>)>,
}

impl Default for GroupConfig {
    fn default() -> Self {
        Self {
            public_handshake: false,
            use_ratchet_tree_extension: true,
            max_past_epochs: 0,
            out_of_order_tolerance: 5,
            maximum_forward_distance: 1000,
            padding_size: 0,
            number_of_resumption_psks: 8,
            required_extensions: Vec::new(),
            required_proposals: Vec::new(),
            required_credentials: Vec::new(),
            group_context_extensions: Vec::new(),
        }
    }
}

impl GroupConfig {
    pub fn wire_format_policy(&self) -> WireFormatPolicy {
        // Incoming handshake messages are accepted in both wire formats so that a
        // member using the other policy (RCS servers arbitrate PublicMessage commits)
        // can still be followed; outgoing ones follow the setting.
        if self.public_handshake {
            MIXED_PLAINTEXT_WIRE_FORMAT_POLICY
        } else {
            MIXED_CIPHERTEXT_WIRE_FORMAT_POLICY
        }
    }

    pub fn join_config(&self) -> MlsGroupJoinConfig {
        MlsGroupJoinConfig::builder()
            .wire_format_policy(self.wire_format_policy())
            .use_ratchet_tree_extension(self.use_ratchet_tree_extension)
            .max_past_epochs(self.max_past_epochs)
            .padding_size(self.padding_size)
            .number_of_resumption_psks(self.number_of_resumption_psks)
            .sender_ratchet_configuration(SenderRatchetConfiguration::new(
                self.out_of_order_tolerance,
                self.maximum_forward_distance,
            ))
            .build()
    }

    pub fn context_extensions(&self) -> Result<Extensions<GroupContext>> {
        let mut exts = extensions_from_pairs(&self.group_context_extensions)?;
        if !self.required_extensions.is_empty()
            || !self.required_proposals.is_empty()
            || !self.required_credentials.is_empty()
        {
            let e: Vec<ExtensionType> = self
                .required_extensions
                .iter()
                .map(|t| (*t).into())
                .collect();
            let p: Vec<ProposalType> = self
                .required_proposals
                .iter()
                .map(|t| (*t).into())
                .collect();
            let c: Vec<CredentialType> = self
                .required_credentials
                .iter()
                .map(|t| (*t).into())
                .collect();
            exts.push(Extension::RequiredCapabilities(
                RequiredCapabilitiesExtension::new(&e, &p, &c),
            ));
        }
        gc_extensions(exts)
    }
}

#[pymethods]
impl GroupConfig {
    #[new]
    #[pyo3(signature = (*, public_handshake=false, use_ratchet_tree_extension=true,
        max_past_epochs=0, out_of_order_tolerance=5, maximum_forward_distance=1000,
        padding_size=0, number_of_resumption_psks=8, required_extensions=Vec::new(), required_proposals=Vec::new(),
        required_credentials=Vec::new(), group_context_extensions=Vec::new()))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        public_handshake: bool,
        use_ratchet_tree_extension: bool,
        max_past_epochs: usize,
        out_of_order_tolerance: u32,
        maximum_forward_distance: u32,
        padding_size: usize,
        number_of_resumption_psks: usize,
        required_extensions: Vec<u16>,
        required_proposals: Vec<u16>,
        required_credentials: Vec<u16>,
        group_context_extensions: Vec<(u16, Vec<u8>)>,
    ) -> PyResult<Self> {
        let cfg = Self {
            public_handshake,
            use_ratchet_tree_extension,
            max_past_epochs,
            out_of_order_tolerance,
            maximum_forward_distance,
            padding_size,
            number_of_resumption_psks,
            required_extensions,
            required_proposals,
            required_credentials,
            group_context_extensions,
        };
        // Validate the extensions now rather than at group creation.
        cfg.context_extensions()?;
        Ok(cfg)
    }

    /// The RCS (GSMA RCC.16) profile: handshake messages as PublicMessage, past
    /// epochs kept for late messages.
    #[staticmethod]
    #[pyo3(signature = (*, max_past_epochs=5, group_context_extensions=Vec::new()))]
    fn rcs(
        max_past_epochs: usize,
        group_context_extensions: Vec<(u16, Vec<u8>)>,
    ) -> PyResult<Self> {
        let cfg = Self {
            public_handshake: true,
            max_past_epochs,
            group_context_extensions,
            ..Self::default()
        };
        cfg.context_extensions()?;
        Ok(cfg)
    }

    fn __repr__(&self) -> String {
        format!(
            "GroupConfig(public_handshake={}, use_ratchet_tree_extension={}, max_past_epochs={}, \
             out_of_order_tolerance={}, maximum_forward_distance={}, padding_size={})",
            self.public_handshake,
            self.use_ratchet_tree_extension,
            self.max_past_epochs,
            self.out_of_order_tolerance,
            self.maximum_forward_distance,
            self.padding_size
        )
    }
}

// ---------------------------------------------------------------------------------------
// Results
// ---------------------------------------------------------------------------------------

/// The messages a commit produces: the commit itself, a Welcome when members were
/// added, and the new epoch's GroupInfo (all MLSMessage bytes).
#[pyclass(frozen, module = "rcs_mls._native", name = "CommitResult")]
pub struct CommitResult {
    #[pyo3(get)]
    commit: Py<PyBytes>,
    #[pyo3(get)]
    welcome: Option<Py<PyBytes>>,
    #[pyo3(get)]
    group_info: Option<Py<PyBytes>>,
}

pub struct CommitBytes {
    pub commit: Vec<u8>,
    pub welcome: Option<Vec<u8>>,
    pub group_info: Option<Vec<u8>>,
}

impl CommitBytes {
    pub fn from_parts(
        commit: MlsMessageOut,
        welcome: Option<MlsMessageOut>,
        group_info: Option<GroupInfo>,
    ) -> Result<Self> {
        let ser = |m: MlsMessageOut| m.to_bytes().map_err(|e| Error::Library(e.to_string()));
        Ok(Self {
            commit: ser(commit)?,
            welcome: welcome.map(ser).transpose()?,
            group_info: group_info.map(|g| ser(g.into())).transpose()?,
        })
    }

    pub fn from_bundle(bundle: CommitMessageBundle) -> Result<Self> {
        let (c, w, g) = bundle.into_messages();
        let ser = |m: MlsMessageOut| m.to_bytes().map_err(|e| Error::Library(e.to_string()));
        Ok(Self {
            commit: ser(c)?,
            welcome: w.map(ser).transpose()?,
            group_info: g.map(ser).transpose()?,
        })
    }

    pub fn into_py(self, py: Python<'_>) -> CommitResult {
        CommitResult {
            commit: PyBytes::new(py, &self.commit).unbind(),
            welcome: self.welcome.map(|w| PyBytes::new(py, &w).unbind()),
            group_info: self.group_info.map(|g| PyBytes::new(py, &g).unbind()),
        }
    }
}

#[pymethods]
impl CommitResult {
    fn __repr__(&self, py: Python<'_>) -> String {
        format!(
            "CommitResult(commit=<{} bytes>, welcome={}, group_info={})",
            self.commit.bind(py).as_bytes().len(),
            self.welcome
                .as_ref()
                .map(|w| format!("<{} bytes>", w.bind(py).as_bytes().len()))
                .unwrap_or_else(|| "None".into()),
            self.group_info
                .as_ref()
                .map(|w| format!("<{} bytes>", w.bind(py).as_bytes().len()))
                .unwrap_or_else(|| "None".into()),
        )
    }
}

/// A group member: its leaf index, credential and public keys.
#[pyclass(frozen, module = "rcs_mls._native", name = "Member")]
pub struct MemberInfo {
    #[pyo3(get)]
    leaf_index: u32,
    #[pyo3(get)]
    identity: Py<PyBytes>,
    #[pyo3(get)]
    credential: Py<Credential>,
    #[pyo3(get)]
    signature_key: Py<PyBytes>,
    #[pyo3(get)]
    encryption_key: Py<PyBytes>,
}

#[pymethods]
impl MemberInfo {
    fn __repr__(&self, py: Python<'_>) -> String {
        format!(
            "Member(leaf_index={}, identity={:?})",
            self.leaf_index,
            String::from_utf8_lossy(self.identity.bind(py).as_bytes())
        )
    }
}

/// Plain data for a member, built without the GIL.
pub struct MemberData {
    leaf_index: u32,
    identity: Vec<u8>,
    credential: openmls::prelude::Credential,
    signature_key: Vec<u8>,
    encryption_key: Vec<u8>,
}

impl MemberData {
    pub(crate) fn from_member(m: &Member) -> Self {
        Self {
            leaf_index: m.index.u32(),
            identity: Credential::identity_bytes(&m.credential).unwrap_or_default(),
            credential: m.credential.clone(),
            signature_key: m.signature_key.clone(),
            encryption_key: m.encryption_key.clone(),
        }
    }

    fn from_leaf(index: u32, leaf: &LeafNode) -> Self {
        Self {
            leaf_index: index,
            identity: Credential::identity_bytes(leaf.credential()).unwrap_or_default(),
            credential: leaf.credential().clone(),
            signature_key: leaf.signature_key().as_slice().to_vec(),
            encryption_key: vl_inner(leaf.encryption_key()),
        }
    }

    pub(crate) fn into_py(self, py: Python<'_>) -> PyResult<Py<MemberInfo>> {
        Py::new(
            py,
            MemberInfo {
                leaf_index: self.leaf_index,
                identity: PyBytes::new(py, &self.identity).unbind(),
                credential: Py::new(
                    py,
                    Credential {
                        inner: self.credential,
                    },
                )?,
                signature_key: PyBytes::new(py, &self.signature_key).unbind(),
                encryption_key: PyBytes::new(py, &self.encryption_key).unbind(),
            },
        )
    }
}

fn members_into_py(py: Python<'_>, v: Vec<MemberData>) -> PyResult<Vec<Py<MemberInfo>>> {
    v.into_iter().map(|m| m.into_py(py)).collect()
}

/// A decrypted application message.
#[pyclass(frozen, module = "rcs_mls._native", name = "ApplicationMessage")]
pub struct ApplicationMessageOut {
    #[pyo3(get)]
    sender_leaf_index: Option<u32>,
    #[pyo3(get)]
    sender_identity: Py<PyBytes>,
    #[pyo3(get)]
    sender_credential: Py<Credential>,
    #[pyo3(get)]
    plaintext: Py<PyBytes>,
    #[pyo3(get)]
    authenticated_data: Py<PyBytes>,
    #[pyo3(get)]
    epoch: u64,
}

#[pymethods]
impl ApplicationMessageOut {
    fn __repr__(&self, py: Python<'_>) -> String {
        format!(
            "ApplicationMessage(sender_leaf_index={}, epoch={}, plaintext=<{} bytes>)",
            opt(self.sender_leaf_index),
            self.epoch,
            self.plaintext.bind(py).as_bytes().len()
        )
    }
}

/// A proposal received and stored as pending, to be covered by a later commit.
#[pyclass(frozen, module = "rcs_mls._native", name = "ProposalMessage")]
pub struct ProposalMessageOut {
    #[pyo3(get)]
    sender_leaf_index: Option<u32>,
    #[pyo3(get)]
    sender_identity: Py<PyBytes>,
    #[pyo3(get)]
    proposal_type: u16,
    #[pyo3(get)]
    proposal_ref: Py<PyBytes>,
    #[pyo3(get)]
    authenticated_data: Py<PyBytes>,
    #[pyo3(get)]
    epoch: u64,
    /// Leaf index removed by a Remove proposal.
    #[pyo3(get)]
    removed_leaf_index: Option<u32>,
    /// Identity a by-reference Add proposal would add.
    #[pyo3(get)]
    added_identity: Option<Py<PyBytes>>,
}

#[pymethods]
impl ProposalMessageOut {
    fn __repr__(&self) -> String {
        format!(
            "ProposalMessage(sender_leaf_index={}, proposal_type=0x{:04x}, epoch={})",
            opt(self.sender_leaf_index),
            self.proposal_type,
            self.epoch
        )
    }
}

/// A leaf whose credential or signature key a commit replaces (an Update proposal or
/// the committer's UpdatePath leaf). RFC 9420 §5.3.3 leaves it to the application to
/// check that the new credential is a valid successor of the old one.
#[pyclass(frozen, module = "rcs_mls._native", name = "CredentialChange")]
pub struct CredentialChangeOut {
    #[pyo3(get)]
    leaf_index: u32,
    #[pyo3(get)]
    old_credential: Py<Credential>,
    #[pyo3(get)]
    new_credential: Py<Credential>,
    #[pyo3(get)]
    old_signature_key: Py<PyBytes>,
    #[pyo3(get)]
    new_signature_key: Py<PyBytes>,
}

#[pymethods]
impl CredentialChangeOut {
    fn __repr__(&self) -> String {
        format!("CredentialChange(leaf_index={})", self.leaf_index)
    }
}

/// Plain data for a credential change, built without the GIL.
pub struct CredentialChangeData {
    leaf_index: u32,
    old_credential: openmls::prelude::Credential,
    new_credential: openmls::prelude::Credential,
    old_signature_key: Vec<u8>,
    new_signature_key: Vec<u8>,
}

impl CredentialChangeData {
    fn into_py(self, py: Python<'_>) -> PyResult<Py<CredentialChangeOut>> {
        Py::new(
            py,
            CredentialChangeOut {
                leaf_index: self.leaf_index,
                old_credential: Py::new(
                    py,
                    Credential {
                        inner: self.old_credential,
                    },
                )?,
                new_credential: Py::new(
                    py,
                    Credential {
                        inner: self.new_credential,
                    },
                )?,
                old_signature_key: PyBytes::new(py, &self.old_signature_key).unbind(),
                new_signature_key: PyBytes::new(py, &self.new_signature_key).unbind(),
            },
        )
    }
}

/// A commit that has been validated but not yet applied. Inspect who it adds,
/// removes and updates, then pass it to :meth:`Group.merge_staged_commit` (or drop it).
#[pyclass(frozen, module = "rcs_mls._native", name = "StagedCommit")]
pub struct StagedCommitOut {
    staged: Mutex<Option<openmls::prelude::StagedCommit>>,
    group_id: Vec<u8>,
    from_epoch: u64,
    #[pyo3(get)]
    sender_leaf_index: Option<u32>,
    #[pyo3(get)]
    sender_identity: Py<PyBytes>,
    /// The members added by Add proposals, at the leaf each will occupy.
    #[pyo3(get)]
    added: Vec<Py<MemberInfo>>,
    #[pyo3(get)]
    removed: Vec<u32>,
    /// Whether this is an external commit (RFC 9420 §12.4.3.2): a new member joining
    /// from a GroupInfo, possibly replacing an old leaf of its own (resync).
    #[pyo3(get)]
    is_external: bool,
    /// The member an external commit adds, at the leaf it will occupy; None otherwise.
    #[pyo3(get)]
    external_joiner: Option<Py<MemberInfo>>,
    /// Every existing leaf whose credential or signature key this commit replaces.
    #[pyo3(get)]
    credential_changes: Vec<Py<CredentialChangeOut>>,
    #[pyo3(get)]
    updated: Vec<u32>,
    #[pyo3(get)]
    psk_ids: Vec<Py<PyBytes>>,
    #[pyo3(get)]
    self_removed: bool,
    #[pyo3(get)]
    has_path: bool,
    #[pyo3(get)]
    group_context_extensions_changed: bool,
    /// The group context extensions of the epoch this commit leads to, as
    /// ``(type, data)`` pairs: check them (e.g. an RCS era) before merging.
    #[pyo3(get)]
    group_context_extensions: Vec<(u16, Vec<u8>)>,
    #[pyo3(get)]
    authenticated_data: Py<PyBytes>,
    #[pyo3(get)]
    epoch: u64,
}

#[pymethods]
impl StagedCommitOut {
    /// Whether this staged commit is still waiting to be merged.
    #[getter]
    fn is_pending(&self) -> bool {
        relock(&self.staged).is_some()
    }

    fn __repr__(&self) -> String {
        format!(
            "StagedCommit(sender_leaf_index={}, added={}, removed={:?}, updated={:?}, epoch={})",
            opt(self.sender_leaf_index),
            self.added.len(),
            self.removed,
            self.updated,
            self.epoch
        )
    }
}

// ---------------------------------------------------------------------------------------
// The group
// ---------------------------------------------------------------------------------------

/// An MLS group as seen by one member.
#[pyclass(frozen, module = "rcs_mls._native", name = "Group")]
pub struct Group {
    pub client: Arc<ClientCore>,
    pub inner: Mutex<MlsGroup>,
    /// The version of the stored group that `inner` is (see [`crate::durability`]);
    /// None when unknown (the next operation reloads the group).
    seen: Mutex<Option<Vec<u8>>>,
}

/// The group, recovering the lock if a panic poisoned it (the operation that panicked
/// failed, and the group was reloaded from the store).
pub(crate) fn lock(m: &Mutex<MlsGroup>) -> Result<MutexGuard<'_, MlsGroup>> {
    Ok(relock(m))
}

/// The content of a TLS `opaque<V>` encoding (a struct with one such field).
fn vl_inner<T: tls_codec::Serialize>(v: &T) -> Vec<u8> {
    v.tls_serialize_detached()
        .ok()
        .and_then(|b| VLBytes::tls_deserialize_exact(&b).ok())
        .map(|b| b.as_slice().to_vec())
        .unwrap_or_default()
}

/// The psk_id of an external PSK proposal (RFC 9420 §8.4: psktype 1 = external).
fn external_psk_id(p: &PreSharedKeyProposal) -> Option<Vec<u8>> {
    let bytes = p.tls_serialize_detached().ok()?;
    let (first, mut rest) = bytes.split_first()?;
    if *first != 1 {
        return None;
    }
    VLBytes::tls_deserialize(&mut rest)
        .ok()
        .map(|b| b.as_slice().to_vec())
}

/// Replace the in-memory group with the state in the store.
pub(crate) fn reload(g: &mut MlsGroup, c: &ClientCore) -> Result<()> {
    if let Some(fresh) = MlsGroup::load(c.provider.storage(), g.group_id())
        .map_err(|e| Error::Storage(e.to_string()))?
    {
        *g = fresh;
    }
    Ok(())
}

fn opt(v: Option<u32>) -> String {
    v.map(|v| v.to_string()).unwrap_or_else(|| "None".into())
}

fn sender_leaf(sender: &Sender) -> Option<u32> {
    match sender {
        Sender::Member(leaf) => Some(leaf.u32()),
        _ => None,
    }
}

fn make_psk_id(
    id: &[u8],
    suite: Ciphersuite,
    provider: &crate::provider::Provider,
) -> Result<PreSharedKeyId> {
    PreSharedKeyId::new(
        suite,
        provider.rand(),
        Psk::External(ExternalPsk::new(id.to_vec())),
    )
    .map_err(|e| Error::Library(format!("psk nonce: {e:?}")))
}

// One value per processed message, moved once into its Python object: the size of the
// commit variant costs nothing worth a box.
#[allow(clippy::large_enum_variant)]
enum Processed {
    App {
        sender: Option<u32>,
        identity: Vec<u8>,
        credential: openmls::prelude::Credential,
        plaintext: Vec<u8>,
        aad: Vec<u8>,
        epoch: u64,
    },
    Proposal {
        sender: Option<u32>,
        identity: Vec<u8>,
        proposal_type: u16,
        proposal_ref: Vec<u8>,
        aad: Vec<u8>,
        epoch: u64,
        removed: Option<u32>,
        added_identity: Option<Vec<u8>>,
    },
    Commit {
        staged: Box<openmls::prelude::StagedCommit>,
        group_id: Vec<u8>,
        from_epoch: u64,
        sender: Option<u32>,
        identity: Vec<u8>,
        added: Vec<MemberData>,
        removed: Vec<u32>,
        external_joiner: Option<MemberData>,
        credential_changes: Vec<CredentialChangeData>,
        updated: Vec<u32>,
        psk_ids: Vec<Vec<u8>>,
        self_removed: bool,
        has_path: bool,
        gce_changed: bool,
        new_extensions: Vec<(u16, Vec<u8>)>,
        aad: Vec<u8>,
    },
}

impl Group {
    /// A handle whose group's stored version is unknown: its first operation reloads it.
    pub fn new(client: Arc<ClientCore>, group: MlsGroup) -> Self {
        Self {
            client,
            inner: Mutex::new(group),
            seen: Mutex::new(None),
        }
    }

    /// A handle on `group` as stored at `version` (see [`crate::durability`]).
    pub fn at(client: Arc<ClientCore>, group: MlsGroup, version: Vec<u8>) -> Self {
        Self {
            client,
            inner: Mutex::new(group),
            seen: Mutex::new(Some(version)),
        }
    }

    /// One operation on the group: the GIL released, serialised with the client's
    /// other operations, in one store transaction. If the store holds another version of
    /// the group than this handle (another handle, thread or process changed it) the
    /// group is reloaded first; an operation that writes bumps the version; if the
    /// operation fails (or panics) the store rolls back and the group is reloaded from
    /// it, so object and store never disagree.
    pub(crate) fn with<T: Send>(
        &self,
        py: Python<'_>,
        f: impl FnOnce(&mut MlsGroup, &ClientCore) -> Result<T> + Send,
    ) -> PyResult<T> {
        self.with_keep(py, f, |_| true)
    }

    /// Like [`Self::with`]; a result for which `keep` says false is not written to the
    /// store, though the in-memory group keeps it (a staged commit: only its merge is
    /// persisted, so a crash before the merge leaves the commit processable again).
    fn with_keep<T: Send>(
        &self,
        py: Python<'_>,
        f: impl FnOnce(&mut MlsGroup, &ClientCore) -> Result<T> + Send,
        keep: impl FnOnce(&T) -> bool + Send,
    ) -> PyResult<T> {
        let client = &self.client;
        let inner = &self.inner;
        let seen = &self.seen;
        Ok(detach(py, || {
            let kept = std::cell::Cell::new(false);
            let result = client.run_keep(
                |stale| {
                    let mut g = lock(inner)?;
                    let record = crate::client::group_record_key(g.group_id().as_slice());
                    let storage = client.provider.storage();
                    let Some(stored) = storage.get_app(&record)? else {
                        return Err(Error::GroupState(
                            "the group was deleted from this client's store".into(),
                        ));
                    };
                    let mut seen = relock(seen);
                    if stale || seen.as_deref() != Some(stored.as_slice()) {
                        reload(&mut g, client)?;
                        *seen = Some(stored.clone());
                    }
                    let out = f(&mut g, client)?;
                    let written = if storage.has_changes()? {
                        let next = crate::durability::next_version(&stored)?;
                        storage.put_app(&record, &next)?;
                        Some(next)
                    } else {
                        None
                    };
                    Ok((out, written))
                },
                |(out, _)| {
                    kept.set(keep(out));
                    kept.get()
                },
            );
            match result {
                Ok((out, written)) => {
                    if let (true, Some(next)) = (kept.get(), written) {
                        *relock(seen) = Some(next);
                    }
                    Ok(out)
                }
                Err(e) => {
                    // The store rolled back: reload the group and the version it is at.
                    let _ = client.run_plain(|| {
                        let mut g = lock(inner)?;
                        let record = crate::client::group_record_key(g.group_id().as_slice());
                        *relock(seen) = client.provider.storage().get_app(&record)?;
                        reload(&mut g, client)
                    });
                    Err(e)
                }
            }
        })?)
    }

    /// The group for a read-only property: reloaded first if another handle of this
    /// client changed the stored group since this one last looked (a change by another
    /// process shows at this handle's next operation).
    fn current(&self) -> Result<MutexGuard<'_, MlsGroup>> {
        let client = &self.client;
        client.run_plain(|| {
            let mut g = lock(&self.inner)?;
            let record = crate::client::group_record_key(g.group_id().as_slice());
            if let Some(stored) = client.provider.storage().get_app(&record)? {
                let mut seen = relock(&self.seen);
                if seen.as_deref() != Some(stored.as_slice()) {
                    reload(&mut g, client)?;
                    *seen = Some(stored);
                }
            }
            Ok(g)
        })
    }

    fn process_inner(g: &mut MlsGroup, c: &ClientCore, data: &[u8]) -> Result<Processed> {
        let msg = MlsMessageIn::tls_deserialize_exact(data)
            .map_err(|e| Error::Parse(format!("not an MLSMessage: {e}")))?;
        let protocol = msg.try_into_protocol_message().map_err(|_| {
            Error::InvalidArgument(
                "expected a PublicMessage or PrivateMessage (use the client to join from a \
                 Welcome or GroupInfo)"
                    .into(),
            )
        })?;
        if protocol.group_id() != g.group_id() {
            return Err(Error::Validation("the message is for another group".into()));
        }
        let from_epoch = g.epoch().as_u64();
        let msg_epoch = protocol.epoch().as_u64();
        let processed = g.process_message(&c.provider, protocol).map_err(|e| {
            match map_process(e) {
                // The epoch is in the clear in every MLS message, so saying so is no oracle.
                Error::Decryption if msg_epoch != from_epoch => Error::WrongEpoch(format!(
                    "the message is for epoch {msg_epoch}, the group is at epoch {from_epoch} \
                     and keeps no secrets for it"
                )),
                other => other,
            }
        })?;
        let sender = sender_leaf(processed.sender());
        let processed_sender = processed.sender().clone();
        let identity = Credential::identity_bytes(processed.credential()).unwrap_or_default();
        let credential = processed.credential().clone();
        let aad = processed.aad().to_vec();
        let epoch = processed.epoch().as_u64();
        match processed.into_content() {
            ProcessedMessageContent::ApplicationMessage(app) => Ok(Processed::App {
                sender,
                identity,
                credential,
                plaintext: app.into_bytes(),
                aad,
                epoch,
            }),
            ProcessedMessageContent::ProposalMessage(qp)
            | ProcessedMessageContent::ExternalJoinProposalMessage(qp) => {
                let proposal_type = u16::from(qp.proposal().proposal_type());
                let proposal_ref = qp.proposal_reference_ref().as_slice().to_vec();
                let (removed, added_identity) = match qp.proposal() {
                    Proposal::Remove(r) => (Some(r.removed().u32()), None),
                    Proposal::Add(a) => (
                        None,
                        Some(
                            Credential::identity_bytes(a.key_package().leaf_node().credential())
                                .unwrap_or_default(),
                        ),
                    ),
                    _ => (None, None),
                };
                g.store_pending_proposal(c.provider.storage(), *qp)
                    .map_err(|e| Error::Storage(format!("{e:?}")))?;
                Ok(Processed::Proposal {
                    sender,
                    identity,
                    proposal_type,
                    proposal_ref,
                    aad,
                    epoch,
                    removed,
                    added_identity,
                })
            }
            ProcessedMessageContent::OwnPendingCommit => Err(Error::GroupState(
                "this is this member's own pending commit: call merge_pending_commit()".into(),
            )),
            ProcessedMessageContent::OwnPrivateMessage => Err(Error::GroupState(
                "this is this member's own message; it cannot be decrypted by its sender".into(),
            )),
            ProcessedMessageContent::StagedCommitMessage(staged) => {
                let removed: Vec<u32> = staged
                    .remove_proposals()
                    .map(|r| r.remove_proposal().removed().u32())
                    .collect();
                // New leaves go to the leftmost blank leaf once the removes are applied
                // (RFC 9420 §12.1.1, §12.4.3.2): the adds in order, then an external joiner.
                let members: Vec<Member> = g.members().collect();
                let mut occupied: std::collections::BTreeSet<u32> = members
                    .iter()
                    .map(|m| m.index.u32())
                    .filter(|i| !removed.contains(i))
                    .collect();
                let mut next_free = move || {
                    let free = (0u32..).find(|i| !occupied.contains(i)).unwrap_or(u32::MAX);
                    occupied.insert(free);
                    free
                };
                let added = staged
                    .add_proposals()
                    .map(|a| {
                        MemberData::from_leaf(
                            next_free(),
                            a.add_proposal().key_package().leaf_node(),
                        )
                    })
                    .collect();
                let is_external = matches!(processed_sender, Sender::NewMemberCommit);
                let external_joiner = if is_external {
                    staged
                        .update_path_leaf_node()
                        .map(|leaf| MemberData::from_leaf(next_free(), leaf))
                } else {
                    None
                };
                let old_leaf = |index: u32| members.iter().find(|m| m.index.u32() == index);
                let mut replaced: Vec<(u32, LeafNode)> = staged
                    .update_proposals()
                    .filter_map(|u| {
                        let leaf = u.update_proposal().leaf_node().clone();
                        sender_leaf(u.sender()).map(|s| (s, leaf))
                    })
                    .collect();
                if let (Some(s), Some(leaf)) = (sender, staged.update_path_leaf_node()) {
                    replaced.push((s, leaf.clone()));
                }
                let credential_changes = replaced
                    .into_iter()
                    .filter_map(|(index, leaf)| {
                        let old = old_leaf(index)?;
                        let new_key = leaf.signature_key().as_slice();
                        (old.credential != *leaf.credential() || old.signature_key != new_key).then(
                            || CredentialChangeData {
                                leaf_index: index,
                                old_credential: old.credential.clone(),
                                new_credential: leaf.credential().clone(),
                                old_signature_key: old.signature_key.clone(),
                                new_signature_key: new_key.to_vec(),
                            },
                        )
                    })
                    .collect();
                let mut updated: Vec<u32> = staged
                    .update_proposals()
                    .filter_map(|u| sender_leaf(u.sender()))
                    .collect();
                let has_path = staged.update_path_leaf_node().is_some();
                if has_path {
                    if let Some(s) = sender {
                        if !updated.contains(&s) {
                            updated.push(s);
                        }
                    }
                }
                let psk_ids = staged
                    .psk_proposals()
                    .filter_map(|p| external_psk_id(p.psk_proposal()))
                    .collect();
                let gce_changed = staged
                    .queued_proposals()
                    .any(|q| matches!(q.proposal(), Proposal::GroupContextExtensions(_)));
                let new_extensions =
                    extensions_to_pairs_inner(staged.group_context().extensions().iter())?;
                Ok(Processed::Commit {
                    new_extensions,
                    self_removed: staged.self_removed(),
                    staged,
                    group_id: g.group_id().as_slice().to_vec(),
                    from_epoch,
                    sender,
                    identity,
                    added,
                    removed,
                    external_joiner,
                    credential_changes,
                    updated,
                    psk_ids,
                    has_path,
                    gce_changed,
                    aad,
                })
            }
        }
    }
}

impl Group {
    /// [`Group::process_message`], with proposals queued by `queue` (in the same store
    /// transaction) before the message is processed and taken out again after: the
    /// references `queue` returns are removed from the proposal store whatever happens.
    /// The RCC.16 code queues the bare proposals OpenMLS cannot decode this way, so that
    /// a commit referencing them can be processed.
    ///
    /// With `journal` (an entry id and a context), a decrypted application message is also
    /// written to the conversation journal in the same transaction
    /// ([`crate::conversation_store`]).
    pub(crate) fn process_around(
        &self,
        py: Python<'_>,
        message: &[u8],
        queue: impl FnOnce(&mut MlsGroup, &ClientCore) -> Result<Vec<ProposalRef>> + Send,
        journal: Option<(Vec<u8>, Vec<u8>)>,
    ) -> PyResult<Py<PyAny>> {
        let processed = self.with_keep(
            py,
            move |g, c| {
                let queued = queue(g, c)?;
                let result = Self::process_inner(g, c, message);
                for r in &queued {
                    // Gone already when the commit consumed it.
                    let _ = g.remove_pending_proposal(c.provider.storage(), r);
                }
                if let (
                    Ok(Processed::App {
                        sender,
                        credential,
                        plaintext,
                        aad,
                        epoch,
                        ..
                    }),
                    Some((entry_id, context)),
                ) = (&result, &journal)
                {
                    crate::conversation_store::journal(
                        c,
                        g.group_id().as_slice(),
                        entry_id,
                        context,
                        (plaintext, aad, *sender, credential, *epoch),
                    )?;
                }
                result
            },
            |p| !matches!(p, Processed::Commit { .. }),
        )?;
        Ok(match processed {
            Processed::App {
                sender,
                identity,
                credential,
                plaintext,
                aad,
                epoch,
            } => Py::new(
                py,
                ApplicationMessageOut {
                    sender_leaf_index: sender,
                    sender_identity: PyBytes::new(py, &identity).unbind(),
                    sender_credential: Py::new(py, Credential { inner: credential })?,
                    plaintext: PyBytes::new(py, &plaintext).unbind(),
                    authenticated_data: PyBytes::new(py, &aad).unbind(),
                    epoch,
                },
            )?
            .into_any(),
            Processed::Proposal {
                sender,
                identity,
                proposal_type,
                proposal_ref,
                aad,
                epoch,
                removed,
                added_identity,
            } => Py::new(
                py,
                ProposalMessageOut {
                    sender_leaf_index: sender,
                    sender_identity: PyBytes::new(py, &identity).unbind(),
                    proposal_type,
                    proposal_ref: PyBytes::new(py, &proposal_ref).unbind(),
                    authenticated_data: PyBytes::new(py, &aad).unbind(),
                    epoch,
                    removed_leaf_index: removed,
                    added_identity: added_identity.map(|a| PyBytes::new(py, &a).unbind()),
                },
            )?
            .into_any(),
            Processed::Commit {
                staged,
                group_id,
                from_epoch,
                sender,
                identity,
                added,
                removed,
                external_joiner,
                credential_changes,
                updated,
                psk_ids,
                self_removed,
                has_path,
                gce_changed,
                new_extensions,
                aad,
            } => Py::new(
                py,
                StagedCommitOut {
                    epoch: staged.epoch().as_u64(),
                    staged: Mutex::new(Some(*staged)),
                    group_id,
                    from_epoch,
                    sender_leaf_index: sender,
                    sender_identity: PyBytes::new(py, &identity).unbind(),
                    added: members_into_py(py, added)?,
                    removed,
                    is_external: external_joiner.is_some(),
                    external_joiner: external_joiner.map(|m| m.into_py(py)).transpose()?,
                    credential_changes: credential_changes
                        .into_iter()
                        .map(|c| c.into_py(py))
                        .collect::<PyResult<_>>()?,
                    updated,
                    psk_ids: psk_ids
                        .iter()
                        .map(|p| PyBytes::new(py, p).unbind())
                        .collect(),
                    self_removed,
                    has_path,
                    group_context_extensions_changed: gce_changed,
                    group_context_extensions: new_extensions,
                    authenticated_data: PyBytes::new(py, &aad).unbind(),
                },
            )?
            .into_any(),
        })
    }
}

#[pymethods]
impl Group {
    // ----- inspection ---------------------------------------------------------------

    #[getter]
    fn group_id<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        let id = lock(&self.inner)?.group_id().as_slice().to_vec();
        Ok(PyBytes::new(py, &id))
    }

    #[getter]
    fn epoch(&self) -> PyResult<u64> {
        Ok(self.current()?.epoch().as_u64())
    }

    #[getter]
    fn ciphersuite(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let suite = lock(&self.inner)?.ciphersuite();
        py_suite(py, suite)
    }

    #[getter]
    fn own_leaf_index(&self) -> PyResult<u32> {
        Ok(self.current()?.own_leaf_index().u32())
    }

    /// False once this member has been removed from the group.
    #[getter]
    fn is_active(&self) -> PyResult<bool> {
        Ok(self.current()?.is_active())
    }

    #[getter]
    fn epoch_authenticator<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        let a = self.current()?.epoch_authenticator().as_slice().to_vec();
        Ok(PyBytes::new(py, &a))
    }

    #[getter]
    fn has_pending_commit(&self) -> PyResult<bool> {
        Ok(self.current()?.pending_commit().is_some())
    }

    /// References of the proposals waiting to be committed.
    #[getter]
    fn pending_proposals<'py>(&self, py: Python<'py>) -> PyResult<Vec<Bound<'py, PyBytes>>> {
        let g = self.current()?;
        Ok(g.pending_proposals()
            .map(|p| PyBytes::new(py, p.proposal_reference_ref().as_slice()))
            .collect())
    }

    /// The members, in leaf order.
    fn members(&self, py: Python<'_>) -> PyResult<Vec<Py<MemberInfo>>> {
        let v = self.with(py, |g, _| {
            Ok(g.members().map(|m| MemberData::from_member(&m)).collect())
        })?;
        members_into_py(py, v)
    }

    /// The member at `leaf_index`, or None for a blank leaf.
    fn member(&self, py: Python<'_>, leaf_index: u32) -> PyResult<Option<Py<MemberInfo>>> {
        let m = self
            .current()?
            .member_at(LeafNodeIndex::new(leaf_index))
            .map(|m| MemberData::from_member(&m));
        m.map(|m| m.into_py(py)).transpose()
    }

    /// The group context extensions as ``(type, data)`` pairs.
    #[getter]
    fn extensions(&self) -> PyResult<Vec<(u16, Vec<u8>)>> {
        let g = self.current()?;
        extensions_to_pairs(g.extensions().iter())
    }

    /// MLS-Exporter(label, context, length) of the current epoch (RFC 9420 §8.5).
    fn export_secret<'py>(
        &self,
        py: Python<'py>,
        label: &str,
        context: BytesIn,
        length: usize,
    ) -> PyResult<Bound<'py, PyBytes>> {
        let label = label.to_string();
        let secret = self.with(py, move |g, c| {
            if length == 0 || length > u16::MAX as usize {
                return Err(Error::InvalidArgument("length must be 1..65535".into()));
            }
            g.export_secret(c.provider.crypto(), &label, &context, length)
                .map_err(classify)
        })?;
        Ok(PyBytes::new(py, &secret))
    }

    /// The GroupInfo of the current epoch as MLSMessage bytes, signed by this member,
    /// for external joins.
    #[pyo3(signature = (*, with_ratchet_tree=true))]
    fn export_group_info<'py>(
        &self,
        py: Python<'py>,
        with_ratchet_tree: bool,
    ) -> PyResult<Bound<'py, PyBytes>> {
        let bytes = self.with(py, move |g, c| {
            let out = g
                .export_group_info(c.provider.crypto(), &*c.signer, with_ratchet_tree)
                .map_err(classify)?;
            out.to_bytes().map_err(|e| Error::Library(e.to_string()))
        })?;
        Ok(PyBytes::new(py, &bytes))
    }

    /// The ratchet tree (TLS-encoded ``optional<Node> ratchet_tree<V>``), for joiners
    /// when the ratchet-tree extension is off.
    fn export_ratchet_tree<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        let bytes = self.with(py, |g, _| {
            g.export_ratchet_tree()
                .tls_serialize_detached()
                .map_err(|e| Error::Library(e.to_string()))
        })?;
        Ok(PyBytes::new(py, &bytes))
    }

    // ----- messages -----------------------------------------------------------------

    /// Encrypt application data as a PrivateMessage (MLSMessage bytes).
    #[pyo3(signature = (plaintext, *, authenticated_data=None))]
    fn encrypt<'py>(
        &self,
        py: Python<'py>,
        plaintext: BytesIn,
        authenticated_data: Option<BytesIn>,
    ) -> PyResult<Bound<'py, PyBytes>> {
        let aad = authenticated_data.map(|a| a.to_vec()).unwrap_or_default();
        let bytes = self.with(py, move |g, c| {
            if g.pending_commit().is_some() {
                return Err(Error::GroupState(
                    "a commit is pending: merge or clear it before sending".into(),
                ));
            }
            g.set_aad(aad);
            let out = g
                .create_message(&c.provider, &*c.signer, &plaintext)
                .map_err(classify)?;
            out.to_bytes().map_err(|e| Error::Library(e.to_string()))
        })?;
        Ok(PyBytes::new(py, &bytes))
    }

    /// Process an incoming MLSMessage (PublicMessage or PrivateMessage).
    ///
    /// Returns an ApplicationMessage, a ProposalMessage (stored as pending) or a
    /// StagedCommit (to merge with :meth:`merge_staged_commit`).
    fn process_message(&self, py: Python<'_>, message: BytesIn) -> PyResult<Py<PyAny>> {
        self.process_around(py, &message, |_, _| Ok(Vec::new()), None)
    }

    /// Apply a staged commit returned by :meth:`process_message`; the group moves
    /// to the next epoch.
    fn merge_staged_commit(&self, py: Python<'_>, staged: &StagedCommitOut) -> PyResult<()> {
        let slot = &staged.staged;
        let group_id = &staged.group_id;
        let from_epoch = staged.from_epoch;
        self.with(py, move |g, c| {
            let mut slot = relock(slot);
            if g.group_id().as_slice() != group_id.as_slice() {
                return Err(Error::GroupState(
                    "the staged commit is for another group".into(),
                ));
            }
            if g.epoch().as_u64() != from_epoch {
                return Err(Error::GroupState(
                    "the staged commit is for an epoch the group has left".into(),
                ));
            }
            let sc = slot
                .take()
                .ok_or_else(|| Error::GroupState("the staged commit was already merged".into()))?;
            g.merge_staged_commit(&c.provider, sc).map_err(classify)
        })
    }

    // ----- own commits --------------------------------------------------------------

    /// Merge this member's own pending commit once the delivery service accepted it.
    fn merge_pending_commit(&self, py: Python<'_>) -> PyResult<()> {
        self.with(py, |g, c| {
            if g.pending_commit().is_none() {
                return Err(Error::GroupState("there is no pending commit".into()));
            }
            g.merge_pending_commit(&c.provider).map_err(classify)
        })
    }

    /// Discard this member's own pending commit (e.g. the delivery service rejected it).
    fn clear_pending_commit(&self, py: Python<'_>) -> PyResult<()> {
        self.with(py, |g, c| {
            g.clear_pending_commit(c.provider.storage())
                .map_err(|e| Error::Storage(format!("{e:?}")))
        })
    }

    /// Forget the proposals received or made in this epoch.
    fn clear_pending_proposals(&self, py: Python<'_>) -> PyResult<()> {
        self.with(py, |g, c| {
            g.clear_pending_proposals(c.provider.storage())
                .map_err(|e| Error::Storage(format!("{e:?}")))
        })
    }

    /// Add members (their validated key packages) in one commit.
    fn add_members(
        &self,
        py: Python<'_>,
        key_packages: Vec<PyRef<'_, KeyPackage>>,
    ) -> PyResult<CommitResult> {
        let kps: Vec<openmls::prelude::KeyPackage> =
            key_packages.iter().map(|k| k.inner.clone()).collect();
        self.commit_with(py, kps, Vec::new(), Vec::new(), None, false)
    }

    /// Remove the members at the given leaf indices in one commit.
    fn remove_members(&self, py: Python<'_>, leaf_indices: Vec<u32>) -> PyResult<CommitResult> {
        self.commit_with(py, Vec::new(), leaf_indices, Vec::new(), None, false)
    }

    /// Remove every leaf whose credential identity is one of `identities`.
    fn remove_members_by_identity(
        &self,
        py: Python<'_>,
        identities: Vec<BytesIn>,
    ) -> PyResult<CommitResult> {
        let ids: Vec<Vec<u8>> = identities.iter().map(|i| i.to_vec()).collect();
        let leaves = self.with(py, move |g, _| {
            let own = g.own_leaf_index().u32();
            let mut leaves = Vec::new();
            for wanted in &ids {
                let found: Vec<u32> = g
                    .members()
                    .filter(|m| {
                        Credential::identity_bytes(&m.credential)
                            .map(|i| &i == wanted)
                            .unwrap_or(false)
                    })
                    .map(|m| m.index.u32())
                    .collect();
                if found.is_empty() {
                    return Err(Error::InvalidArgument(format!(
                        "no member with identity {:?}",
                        String::from_utf8_lossy(wanted)
                    )));
                }
                if found.contains(&own) {
                    return Err(Error::InvalidArgument(
                        "cannot remove yourself by commit; use leave()".into(),
                    ));
                }
                leaves.extend(found);
            }
            Ok(leaves)
        })?;
        self.commit_with(py, Vec::new(), leaves, Vec::new(), None, false)
    }

    /// A commit with an update path that refreshes this member's leaf keys
    /// (also commits pending proposals).
    fn self_update(&self, py: Python<'_>) -> PyResult<CommitResult> {
        let out = self.with(py, |g, c| {
            if g.pending_commit().is_some() {
                return Err(Error::GroupState("a commit is already pending".into()));
            }
            let bundle = g
                .self_update(&c.provider, &*c.signer, LeafNodeParameters::default())
                .map_err(classify)?;
            CommitBytes::from_bundle(bundle)
        })?;
        Ok(out.into_py(py))
    }

    /// Commit the pending proposals (received or own, by reference).
    fn commit_pending_proposals(&self, py: Python<'_>) -> PyResult<CommitResult> {
        let out = self.with(py, |g, c| {
            if g.pending_commit().is_some() {
                return Err(Error::GroupState("a commit is already pending".into()));
            }
            let (commit, welcome, gi) = g
                .commit_to_pending_proposals(&c.provider, &*c.signer)
                .map_err(classify)?;
            CommitBytes::from_parts(commit, welcome, gi)
        })?;
        Ok(out.into_py(py))
    }

    /// Replace the group context extensions in one commit.
    fn update_group_context_extensions(
        &self,
        py: Python<'_>,
        extensions: Vec<(u16, Vec<u8>)>,
    ) -> PyResult<CommitResult> {
        let exts = gc_extensions(extensions_from_pairs(&extensions)?)?;
        let out = self.with(py, move |g, c| {
            if g.pending_commit().is_some() {
                return Err(Error::GroupState("a commit is already pending".into()));
            }
            let (commit, welcome, gi) = g
                .update_group_context_extensions(&c.provider, exts, &*c.signer)
                .map_err(classify)?;
            CommitBytes::from_parts(commit, welcome, gi)
        })?;
        Ok(out.into_py(py))
    }

    /// One commit with any mix of adds, removes, external PSKs and new group context
    /// extensions (pending proposals are included too).
    #[pyo3(signature = (*, add=Vec::new(), remove=Vec::new(), psk_ids=Vec::new(), group_context_extensions=None, force_path=false))]
    fn commit(
        &self,
        py: Python<'_>,
        add: Vec<PyRef<'_, KeyPackage>>,
        remove: Vec<u32>,
        psk_ids: Vec<BytesIn>,
        group_context_extensions: Option<Vec<(u16, Vec<u8>)>>,
        force_path: bool,
    ) -> PyResult<CommitResult> {
        let kps = add.iter().map(|k| k.inner.clone()).collect();
        let psks = psk_ids.iter().map(|p| p.to_vec()).collect();
        let gce = group_context_extensions
            .map(|e| extensions_from_pairs(&e).and_then(gc_extensions))
            .transpose()?;
        self.commit_with(py, kps, remove, psks, gce, force_path)
    }

    // ----- proposals by reference ---------------------------------------------------

    /// Propose adding a member; returns the proposal (MLSMessage bytes).
    fn propose_add(
        &self,
        py: Python<'_>,
        key_package: PyRef<'_, KeyPackage>,
    ) -> PyResult<Py<PyBytes>> {
        self.propose(py, Propose::Add(key_package.inner.clone()))
    }

    /// Propose removing the member at `leaf_index`.
    fn propose_remove(&self, py: Python<'_>, leaf_index: u32) -> PyResult<Py<PyBytes>> {
        self.propose(py, Propose::Remove(leaf_index))
    }

    /// Propose refreshing this member's leaf (an Update proposal).
    fn propose_self_update(&self, py: Python<'_>) -> PyResult<Py<PyBytes>> {
        self.propose(py, Propose::Update(LeafNodeParameters::default()))
    }

    /// Propose injecting the external PSK `psk_id` (stored with Client.store_psk).
    fn propose_external_psk(&self, py: Python<'_>, psk_id: BytesIn) -> PyResult<Py<PyBytes>> {
        let suite = lock(&self.inner)?.ciphersuite();
        let id = make_psk_id(&psk_id, suite, &self.client.provider)?;
        self.propose(py, Propose::PreSharedKey(id))
    }

    /// Propose new group context extensions.
    fn propose_group_context_extensions(
        &self,
        py: Python<'_>,
        extensions: Vec<(u16, Vec<u8>)>,
    ) -> PyResult<Py<PyBytes>> {
        let exts = gc_extensions(extensions_from_pairs(&extensions)?)?;
        self.propose(py, Propose::GroupContextExtensions(exts))
    }

    /// Leave: a Remove proposal for this member's own leaf (another member commits it).
    fn leave(&self, py: Python<'_>) -> PyResult<Py<PyBytes>> {
        let bytes = self.with(py, |g, c| {
            g.leave_group(&c.provider, &*c.signer)
                .map_err(classify)?
                .to_bytes()
                .map_err(|e| Error::Library(e.to_string()))
        })?;
        Ok(PyBytes::new(py, &bytes).unbind())
    }

    /// Leave with a SelfRemove proposal (draft-ietf-mls-extensions); needs
    /// handshake messages as PublicMessage.
    fn leave_via_self_remove(&self, py: Python<'_>) -> PyResult<Py<PyBytes>> {
        let bytes = self.with(py, |g, c| {
            g.leave_group_via_self_remove(&c.provider, &*c.signer)
                .map_err(classify)?
                .to_bytes()
                .map_err(|e| Error::Library(e.to_string()))
        })?;
        Ok(PyBytes::new(py, &bytes).unbind())
    }

    fn __repr__(&self) -> String {
        match lock(&self.inner) {
            Ok(g) => format!(
                "Group(group_id={}, epoch={}, own_leaf_index={}, members={})",
                crate::credentials::hex(g.group_id().as_slice()),
                g.epoch().as_u64(),
                g.own_leaf_index().u32(),
                g.members().count()
            ),
            Err(_) => "Group(<poisoned>)".into(),
        }
    }
}

impl Group {
    fn propose(&self, py: Python<'_>, p: Propose) -> PyResult<Py<PyBytes>> {
        let bytes = self.with(py, move |g, c| {
            if g.pending_commit().is_some() {
                return Err(Error::GroupState("a commit is pending".into()));
            }
            let (msg, _ref) = g
                .propose(&c.provider, &*c.signer, p, ProposalOrRefType::Reference)
                .map_err(classify)?;
            msg.to_bytes().map_err(|e| Error::Library(e.to_string()))
        })?;
        Ok(PyBytes::new(py, &bytes).unbind())
    }

    #[allow(clippy::too_many_arguments)]
    fn commit_with(
        &self,
        py: Python<'_>,
        adds: Vec<openmls::prelude::KeyPackage>,
        removes: Vec<u32>,
        psk_ids: Vec<Vec<u8>>,
        gce: Option<Extensions<GroupContext>>,
        force_path: bool,
    ) -> PyResult<CommitResult> {
        let out = self.with(py, move |g, c| {
            if g.pending_commit().is_some() {
                return Err(Error::GroupState("a commit is already pending".into()));
            }
            if !g.is_active() {
                return Err(Error::GroupState(
                    "this member was removed from the group".into(),
                ));
            }
            let suite = g.ciphersuite();
            for kp in &adds {
                if kp.ciphersuite() != suite {
                    return Err(Error::InvalidArgument(
                        "a key package's ciphersuite differs from the group's".into(),
                    ));
                }
            }
            let member_count = g.members().count() as u32;
            let own = g.own_leaf_index().u32();
            for r in &removes {
                if *r == own {
                    return Err(Error::InvalidArgument(
                        "cannot remove yourself by commit; use leave()".into(),
                    ));
                }
                if g.member_at(LeafNodeIndex::new(*r)).is_none() {
                    return Err(Error::InvalidArgument(format!(
                        "no member at leaf index {r} (group of {member_count})"
                    )));
                }
            }
            let mut builder = g
                .commit_builder()
                .consume_proposal_store(true)
                .force_self_update(force_path)
                .propose_adds(adds)
                .propose_removals(removes.into_iter().map(LeafNodeIndex::new));
            for id in &psk_ids {
                let pid = make_psk_id(id, suite, &c.provider)?;
                builder = builder.add_proposal(Proposal::PreSharedKey(Box::new(
                    PreSharedKeyProposal::new(pid),
                )));
            }
            if let Some(exts) = gce {
                builder = builder
                    .propose_group_context_extensions(exts)
                    .map_err(classify)?;
            }
            let bundle = builder
                .load_psks(c.provider.storage())
                .map_err(classify)?
                .build(c.provider.rand(), c.provider.crypto(), &*c.signer, |_| true)
                .map_err(classify)?
                .stage_commit(&c.provider)
                .map_err(classify)?;
            CommitBytes::from_bundle(bundle)
        })?;
        Ok(out.into_py(py))
    }
}
