//! What an MLSMessage shows to someone who holds no key: a server, a test lab, an auditor.
//!
//! [`inspect`] reads the clear parts of any MLSMessage (RFC 9420 §6): the wire format;
//! for a PublicMessage its group id, epoch, sender, content type and content (a commit's
//! proposals by value and by reference, and whether it has an UpdatePath; a proposal; the
//! size of application data); for a PrivateMessage its header (group id, epoch, content
//! type) and sizes; for a Welcome the number of new members it is encrypted to; for a
//! GroupInfo its GroupContext extensions and the credentials of the leaves of the tree it
//! carries. It never decrypts and verifies nothing (no signature or tag can be checked
//! without the group's keys).
//!
//! OpenMLS 0.9.2 keeps the content of an incoming PublicMessage private, so the framing is
//! read here with a small bounds-checked reader; proposals are measured and decoded with
//! OpenMLS's own `ProposalIn` / `KeyPackageIn` decoders, and the RCC.16 bare proposals
//! (0xF002 `rcs_signature`, 0xF003 `SelfRemove`, 0xF004 `ServerRemove`, no length prefix)
//! are read as RCC.16 frames them. Every parser is total: any byte string gives either a
//! result or `Error::Parse`, never a panic.

use openmls::prelude::*;
use pyo3::prelude::*;
use pyo3::types::PyBytes;
use tls_codec::{Deserialize as _, Serialize as _};

use crate::error::{Error, Result};
use crate::group::extensions_to_pairs_inner;
use crate::types::BytesIn;

const MLS10: u16 = 1;
const WIRE_PUBLIC: u16 = 1;
const WIRE_PRIVATE: u16 = 2;
const WIRE_WELCOME: u16 = 3;
const WIRE_GROUP_INFO: u16 = 4;
const WIRE_KEY_PACKAGE: u16 = 5;

const SENDER_MEMBER: u8 = 1;
const SENDER_EXTERNAL: u8 = 2;
const SENDER_NEW_MEMBER_PROPOSAL: u8 = 3;
const SENDER_NEW_MEMBER_COMMIT: u8 = 4;

const CONTENT_APPLICATION: u8 = 1;
const CONTENT_PROPOSAL: u8 = 2;
const CONTENT_COMMIT: u8 = 3;

const PROPOSAL_ADD: u16 = 1;
const PROPOSAL_UPDATE: u16 = 2;
const PROPOSAL_REMOVE: u16 = 3;
const PROPOSAL_GROUP_CONTEXT_EXTENSIONS: u16 = 7;
/// RCC.16 bare proposals (no length prefix): `rcs_signature`, `SelfRemove` (empty) and
/// `ServerRemove` (`uint32 to_remove`).
const PROPOSAL_RCS_SIGNATURE: u16 = 0xF002;
const PROPOSAL_RCS_SELF_REMOVE: u16 = 0xF003;
const PROPOSAL_RCS_SERVER_REMOVE: u16 = 0xF004;

/// A bounds-checked reader of TLS presentation-language bytes.
struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn new(data: &'a [u8]) -> Self {
        Self { data, pos: 0 }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|e| *e <= self.data.len())
            .ok_or_else(|| Error::Parse("truncated MLS message".into()))?;
        let out = &self.data[self.pos..end];
        self.pos = end;
        Ok(out)
    }

    fn rest(&self) -> &'a [u8] {
        &self.data[self.pos..]
    }

    fn u8(&mut self) -> Result<u8> {
        Ok(self.take(1)?[0])
    }

    fn u16(&mut self) -> Result<u16> {
        let b = self.take(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    fn u32(&mut self) -> Result<u32> {
        let b = self.take(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn u64(&mut self) -> Result<u64> {
        let b = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_be_bytes(a))
    }

    /// An RFC 9420 §2.1.2 variable-length vector.
    fn vl(&mut self) -> Result<&'a [u8]> {
        let first = self.u8()?;
        let len = match first >> 6 {
            0 => u64::from(first & 0x3f),
            1 => (u64::from(first & 0x3f) << 8) | u64::from(self.u8()?),
            2 => {
                let rest = self.take(3)?;
                (u64::from(first & 0x3f) << 24)
                    | (u64::from(rest[0]) << 16)
                    | (u64::from(rest[1]) << 8)
                    | u64::from(rest[2])
            }
            _ => return Err(Error::Parse("invalid variable-length integer".into())),
        };
        let len = usize::try_from(len).map_err(|_| Error::Parse("vector too long".into()))?;
        self.take(len)
    }

    fn done(&self) -> bool {
        self.pos == self.data.len()
    }
}

/// One proposal as a server sees it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProposalView {
    pub proposal_type: u16,
    /// Add: the key package's credential; Update: the new leaf's credential (TLS bytes).
    pub credential: Option<Vec<u8>>,
    /// Remove / RCC.16 ServerRemove: the leaf index removed.
    pub removed: Option<u32>,
    /// GroupContextExtensions: the new extension list.
    pub extensions: Vec<(u16, Vec<u8>)>,
}

/// An MLSMessage as a server sees it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MessageView {
    pub wire_format: u16,
    pub group_id: Option<Vec<u8>>,
    pub epoch: Option<u64>,
    pub content_type: Option<u8>,
    pub sender_type: Option<u8>,
    pub sender_index: Option<u32>,
    pub authenticated_data_length: usize,
    pub content_length: usize,
    pub proposals: Vec<ProposalView>,
    pub proposal_refs: Vec<Vec<u8>>,
    pub has_path: bool,
    pub path_credential: Option<Vec<u8>>,
    pub welcome_secrets: Option<usize>,
    pub group_context_extensions: Vec<(u16, Vec<u8>)>,
    pub tree_credentials: Option<Vec<Vec<u8>>>,
}

fn parse_err(what: &str) -> impl Fn(tls_codec::Error) -> Error + '_ {
    move |e| Error::Parse(format!("{what}: {e}"))
}

fn credential_bytes(credential: &Credential) -> Result<Vec<u8>> {
    credential
        .tls_serialize_detached()
        .map_err(|e| Error::Library(format!("credential: {e}")))
}

/// `Extension extensions<V>` (RFC 9420 §13): `(type, data)` pairs, read without
/// interpreting any type.
fn extension_list(data: &[u8]) -> Result<Vec<(u16, Vec<u8>)>> {
    let mut r = Reader::new(data);
    let mut out = Vec::new();
    while !r.done() {
        let t = r.u16()?;
        out.push((t, r.vl()?.to_vec()));
    }
    Ok(out)
}

/// The credential of a LeafNode at the start of `data`: `encryption_key<V>`,
/// `signature_key<V>`, then the `Credential`.
fn leaf_credential(data: &[u8]) -> Result<Vec<u8>> {
    let mut r = Reader::new(data);
    r.vl()?;
    r.vl()?;
    let mut rest = r.rest();
    let credential =
        Credential::tls_deserialize(&mut rest).map_err(parse_err("leaf credential"))?;
    credential_bytes(&credential)
}

/// One `Proposal` at the reader's position: the RCC.16 bare types as RCC.16 frames them,
/// the others measured by OpenMLS's decoder.
fn proposal(r: &mut Reader<'_>) -> Result<ProposalView> {
    let start = r.pos;
    let proposal_type = r.u16()?;
    let mut view = ProposalView {
        proposal_type,
        ..ProposalView::default()
    };
    match proposal_type {
        PROPOSAL_RCS_SIGNATURE | PROPOSAL_RCS_SELF_REMOVE => return Ok(view),
        PROPOSAL_RCS_SERVER_REMOVE => {
            view.removed = Some(r.u32()?);
            return Ok(view);
        }
        _ => {}
    }
    let mut whole = &r.data[start..];
    let before = whole.len();
    ProposalIn::tls_deserialize(&mut whole).map_err(parse_err("proposal"))?;
    let len = before - whole.len();
    let body = r.take(len.saturating_sub(2))?;
    match proposal_type {
        PROPOSAL_ADD => {
            let mut rest = body;
            let kp = KeyPackageIn::tls_deserialize(&mut rest).map_err(parse_err("key package"))?;
            view.credential = Some(credential_bytes(&kp.unverified_credential().credential)?);
        }
        PROPOSAL_UPDATE => view.credential = Some(leaf_credential(body)?),
        PROPOSAL_REMOVE => view.removed = Some(Reader::new(body).u32()?),
        PROPOSAL_GROUP_CONTEXT_EXTENSIONS => {
            view.extensions = extension_list(Reader::new(body).vl()?)?;
        }
        _ => {}
    }
    Ok(view)
}

fn public_message(r: &mut Reader<'_>, view: &mut MessageView) -> Result<()> {
    view.group_id = Some(r.vl()?.to_vec());
    view.epoch = Some(r.u64()?);
    let sender_type = r.u8()?;
    view.sender_type = Some(sender_type);
    match sender_type {
        SENDER_MEMBER | SENDER_EXTERNAL => view.sender_index = Some(r.u32()?),
        SENDER_NEW_MEMBER_PROPOSAL | SENDER_NEW_MEMBER_COMMIT => {}
        other => return Err(Error::Parse(format!("unknown sender type {other}"))),
    }
    view.authenticated_data_length = r.vl()?.len();
    let content_type = r.u8()?;
    view.content_type = Some(content_type);
    let start = r.pos;
    match content_type {
        CONTENT_APPLICATION => {
            r.vl()?;
        }
        CONTENT_PROPOSAL => view.proposals.push(proposal(r)?),
        CONTENT_COMMIT => {
            let list = r.vl()?;
            let mut items = Reader::new(list);
            while !items.done() {
                match items.u8()? {
                    1 => view.proposals.push(proposal(&mut items)?),
                    2 => view.proposal_refs.push(items.vl()?.to_vec()),
                    other => {
                        return Err(Error::Parse(format!("unknown ProposalOrRef type {other}")))
                    }
                }
            }
            match r.u8()? {
                0 => {}
                1 => {
                    view.has_path = true;
                    view.path_credential = Some(leaf_credential(r.rest())?);
                }
                _ => return Err(Error::Parse("invalid optional<UpdatePath>".into())),
            }
        }
        other => return Err(Error::Parse(format!("unknown content type {other}"))),
    }
    view.content_length = r.pos - start;
    Ok(())
}

fn private_message(r: &mut Reader<'_>, view: &mut MessageView) -> Result<()> {
    view.group_id = Some(r.vl()?.to_vec());
    view.epoch = Some(r.u64()?);
    let content_type = r.u8()?;
    if !(CONTENT_APPLICATION..=CONTENT_COMMIT).contains(&content_type) {
        return Err(Error::Parse(format!("unknown content type {content_type}")));
    }
    view.content_type = Some(content_type);
    view.authenticated_data_length = r.vl()?.len();
    r.vl()?;
    view.content_length = r.vl()?.len();
    if !r.done() {
        return Err(Error::Parse("bytes after the PrivateMessage".into()));
    }
    Ok(())
}

fn welcome(r: &mut Reader<'_>, view: &mut MessageView) -> Result<()> {
    r.u16()?;
    let secrets = r.vl()?;
    let mut items = Reader::new(secrets);
    let mut count = 0;
    while !items.done() {
        items.vl()?; // new_member (KeyPackageRef)
        items.vl()?; // kem_output
        items.vl()?; // ciphertext
        count += 1;
    }
    view.welcome_secrets = Some(count);
    view.content_length = r.vl()?.len();
    if !r.done() {
        return Err(Error::Parse("bytes after the Welcome".into()));
    }
    Ok(())
}

fn group_info(data: &[u8], view: &mut MessageView) -> Result<()> {
    let message = MlsMessageIn::tls_deserialize_exact(data).map_err(parse_err("GroupInfo"))?;
    let MlsMessageBodyIn::GroupInfo(info) = message.extract() else {
        return Err(Error::Parse("not a GroupInfo".into()));
    };
    let context = info.group_context();
    view.group_id = Some(context.group_id().as_slice().to_vec());
    view.epoch = Some(context.epoch().as_u64());
    view.group_context_extensions = extensions_to_pairs_inner(context.extensions().iter())?;
    if let Some(tree) = info.extensions().ratchet_tree() {
        let mut credentials = Vec::new();
        for leaf in tree.ratchet_tree().leaves() {
            credentials.push(credential_bytes(leaf.credential())?);
        }
        view.tree_credentials = Some(credentials);
    }
    Ok(())
}

/// Read what an MLSMessage shows without keys (see the module doc).
pub fn inspect(data: &[u8]) -> Result<MessageView> {
    let mut r = Reader::new(data);
    if r.u16()? != MLS10 {
        return Err(Error::Parse("not an MLS 1.0 message".into()));
    }
    let wire_format = r.u16()?;
    let mut view = MessageView {
        wire_format,
        ..MessageView::default()
    };
    match wire_format {
        WIRE_PUBLIC => public_message(&mut r, &mut view)?,
        WIRE_PRIVATE => private_message(&mut r, &mut view)?,
        WIRE_WELCOME => welcome(&mut r, &mut view)?,
        WIRE_GROUP_INFO => group_info(data, &mut view)?,
        WIRE_KEY_PACKAGE => {}
        other => return Err(Error::Parse(format!("unknown wire format {other}"))),
    }
    Ok(view)
}

// ---------------------------------------------------------------------------------------
// Python
// ---------------------------------------------------------------------------------------

type ExtensionsPy<'py> = Vec<(u16, Bound<'py, PyBytes>)>;

fn extensions_py<'py>(py: Python<'py>, pairs: &[(u16, Vec<u8>)]) -> ExtensionsPy<'py> {
    pairs
        .iter()
        .map(|(t, d)| (*t, PyBytes::new(py, d)))
        .collect()
}

/// One proposal of an inspected message (by value), as a server sees it.
#[pyclass(frozen, module = "rcs_mls._native", name = "InspectedProposal")]
pub struct InspectedProposal {
    inner: ProposalView,
}

#[pymethods]
impl InspectedProposal {
    /// The RFC 9420 proposal type (1 Add, 2 Update, 3 Remove, 7 GroupContextExtensions,
    /// 0xF002-0xF004 the RCC.16 bare proposals...).
    #[getter]
    fn proposal_type(&self) -> u16 {
        self.inner.proposal_type
    }

    /// Add: the key package's credential; Update: the new leaf's (TLS bytes, unverified).
    #[getter]
    fn credential<'py>(&self, py: Python<'py>) -> Option<Bound<'py, PyBytes>> {
        self.inner.credential.as_ref().map(|c| PyBytes::new(py, c))
    }

    /// Remove / RCC.16 ServerRemove: the removed leaf index.
    #[getter]
    fn removed(&self) -> Option<u32> {
        self.inner.removed
    }

    /// GroupContextExtensions: the complete new extension list.
    #[getter]
    fn extensions<'py>(&self, py: Python<'py>) -> ExtensionsPy<'py> {
        extensions_py(py, &self.inner.extensions)
    }

    fn __repr__(&self) -> String {
        format!(
            "InspectedProposal(proposal_type=0x{:04x})",
            self.inner.proposal_type
        )
    }
}

/// An MLSMessage as a server sees it: nothing here is verified or decrypted.
#[pyclass(frozen, module = "rcs_mls._native", name = "InspectedMessage")]
pub struct InspectedMessage {
    inner: MessageView,
}

#[pymethods]
impl InspectedMessage {
    /// 1 PublicMessage, 2 PrivateMessage, 3 Welcome, 4 GroupInfo, 5 KeyPackage.
    #[getter]
    fn wire_format(&self) -> u16 {
        self.inner.wire_format
    }

    #[getter]
    fn group_id<'py>(&self, py: Python<'py>) -> Option<Bound<'py, PyBytes>> {
        self.inner.group_id.as_ref().map(|g| PyBytes::new(py, g))
    }

    #[getter]
    fn epoch(&self) -> Option<u64> {
        self.inner.epoch
    }

    /// 1 application, 2 proposal, 3 commit (Public/PrivateMessage only).
    #[getter]
    fn content_type(&self) -> Option<u8> {
        self.inner.content_type
    }

    /// PublicMessage: 1 member, 2 external, 3 new_member_proposal, 4 new_member_commit.
    #[getter]
    fn sender_type(&self) -> Option<u8> {
        self.inner.sender_type
    }

    /// PublicMessage from a member (its leaf) or an external sender (its index).
    #[getter]
    fn sender_index(&self) -> Option<u32> {
        self.inner.sender_index
    }

    #[getter]
    fn authenticated_data_length(&self) -> usize {
        self.inner.authenticated_data_length
    }

    /// The size of the content (PublicMessage), the ciphertext (PrivateMessage) or the
    /// encrypted GroupInfo (Welcome).
    #[getter]
    fn content_length(&self) -> usize {
        self.inner.content_length
    }

    /// A commit's proposals by value, or a proposal message's proposal.
    #[getter]
    fn proposals(&self, py: Python<'_>) -> PyResult<Vec<Py<InspectedProposal>>> {
        self.inner
            .proposals
            .iter()
            .map(|p| Py::new(py, InspectedProposal { inner: p.clone() }))
            .collect()
    }

    /// A commit's proposals by reference (ProposalRef hashes).
    #[getter]
    fn proposal_refs<'py>(&self, py: Python<'py>) -> Vec<Bound<'py, PyBytes>> {
        self.inner
            .proposal_refs
            .iter()
            .map(|r| PyBytes::new(py, r))
            .collect()
    }

    /// A commit with an UpdatePath.
    #[getter]
    fn has_path(&self) -> bool {
        self.inner.has_path
    }

    /// The credential of the UpdatePath's leaf node (TLS bytes, unverified).
    #[getter]
    fn path_credential<'py>(&self, py: Python<'py>) -> Option<Bound<'py, PyBytes>> {
        self.inner
            .path_credential
            .as_ref()
            .map(|c| PyBytes::new(py, c))
    }

    /// Welcome: the number of new members it is encrypted to.
    #[getter]
    fn welcome_secrets(&self) -> Option<usize> {
        self.inner.welcome_secrets
    }

    /// GroupInfo: the GroupContext extensions.
    #[getter]
    fn group_context_extensions<'py>(&self, py: Python<'py>) -> ExtensionsPy<'py> {
        extensions_py(py, &self.inner.group_context_extensions)
    }

    /// GroupInfo with a ratchet tree: the credential of each non-blank leaf.
    #[getter]
    fn tree_credentials<'py>(&self, py: Python<'py>) -> Option<Vec<Bound<'py, PyBytes>>> {
        self.inner
            .tree_credentials
            .as_ref()
            .map(|list| list.iter().map(|c| PyBytes::new(py, c)).collect())
    }

    fn __repr__(&self) -> String {
        format!(
            "InspectedMessage(wire_format={}, epoch={:?}, content_type={:?})",
            self.inner.wire_format, self.inner.epoch, self.inner.content_type
        )
    }
}

/// Read the clear parts of an MLSMessage, with no key (see the module doc).
///
/// Raises ParseError for bytes that are not an MLSMessage this reader understands.
#[pyfunction]
fn inspect_message(py: Python<'_>, message: BytesIn) -> PyResult<InspectedMessage> {
    let data = message.to_vec();
    let inner = crate::error::detach(py, move || inspect(&data))?;
    Ok(InspectedMessage { inner })
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<InspectedMessage>()?;
    m.add_class::<InspectedProposal>()?;
    m.add_function(wrap_pyfunction!(inspect_message, m)?)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn public_commit(body: &[u8]) -> Vec<u8> {
        let mut m = vec![0, 1, 0, 1, 2, b'g', b'1'];
        m.extend_from_slice(&3u64.to_be_bytes());
        m.extend_from_slice(&[SENDER_MEMBER, 0, 0, 0, 1, 0, CONTENT_COMMIT]);
        m.extend_from_slice(body);
        m
    }

    #[test]
    fn reads_a_commit_by_reference_with_a_remove() {
        // proposals<V>: Remove(leaf 5) by value, one reference of 2 bytes; no path.
        let list = [1u8, 0, 3, 0, 0, 0, 5, 2, 2, 0xaa, 0xbb];
        let mut body = vec![list.len() as u8];
        body.extend_from_slice(&list);
        body.push(0);
        let view = inspect(&public_commit(&body)).unwrap_or_default();
        assert_eq!(view.wire_format, WIRE_PUBLIC);
        assert_eq!(view.epoch, Some(3));
        assert_eq!(view.sender_index, Some(1));
        assert_eq!(view.proposals.len(), 1);
        assert_eq!(view.proposals[0].removed, Some(5));
        assert_eq!(view.proposal_refs, vec![vec![0xaa, 0xbb]]);
        assert!(!view.has_path);
    }

    #[test]
    fn reads_a_group_context_extensions_commit() {
        // GCE { extensions<V> = [(0xF002, ""), (0xF001, 00000002)] }
        let exts = [0xf0, 0x02, 0, 0xf0, 0x01, 4, 0, 0, 0, 2];
        let mut prop = vec![1u8, 0, 7, exts.len() as u8];
        prop.extend_from_slice(&exts);
        let mut body = vec![prop.len() as u8];
        body.extend_from_slice(&prop);
        body.push(0);
        let view = inspect(&public_commit(&body)).unwrap_or_default();
        assert_eq!(view.proposals.len(), 1);
        assert_eq!(
            view.proposals[0].extensions,
            vec![(0xF002, vec![]), (0xF001, vec![0, 0, 0, 2])]
        );
    }

    #[test]
    fn hostile_bytes_never_panic() {
        let seeds: [&[u8]; 4] = [
            &[
                0, 1, 0, 1, 2, b'g', b'1', 0, 0, 0, 0, 0, 0, 0, 3, 1, 0, 0, 0, 1, 0, 3, 4, 1, 0, 1,
            ],
            &[0, 1, 0, 2, 0xff],
            &[0, 1, 0, 3, 0, 2, 0x7f],
            &[0, 1, 0, 4, 0, 1],
        ];
        for seed in seeds {
            for cut in 0..=seed.len() {
                let _ = inspect(&seed[..cut]);
            }
            for i in 0..seed.len() {
                for v in [0u8, 1, 0x3f, 0x40, 0x80, 0xc0, 0xff] {
                    let mut m = seed.to_vec();
                    m[i] = v;
                    let _ = inspect(&m);
                }
            }
        }
        assert!(inspect(&[0, 1, 0, 9]).is_err());
        assert!(inspect(&[]).is_err());
    }
}
