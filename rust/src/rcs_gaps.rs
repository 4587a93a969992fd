//! Where OpenMLS 0.9.2 falls short of GSMA RCC.16: our own code on OpenMLS's public API.
//!
//! Every export is prefixed `rcs_`; the Python layer (`rcs_mls.rcs.conversation`) is the
//! only intended caller. See `docs/openmls-gaps.md` for what is missing upstream, what this
//! module does instead, and what cannot be done.
//!
//! * **Sender generations.** RCC.16 puts the MLS sender generation of a PrivateMessage
//!   inside its own SecretPayload, and the receiver compares it with the generation in the
//!   decrypted sender data. OpenMLS keeps generations `pub(crate)`. We read the group's
//!   `MessageSecretsStore` through the public `StorageProvider` trait into a mirror type of
//!   our own ([`SecretsStore`]) and (a) read the own leaf's application ratchet generation,
//!   (b) decrypt the sender data of an incoming PrivateMessage ourselves (RFC 9420 §6.3.2)
//!   with the epoch's `sender_data_secret`.
//! * **Bare RCC.16 proposals** (0xF002 `rcs_signature`, 0xF003 `SelfRemove`, 0xF004
//!   `ServerRemove`): OpenMLS frames a custom proposal's payload as `opaque<V>`; RCC.16 does
//!   not. We build (member sender) and parse PublicMessages carrying them with our own TLS
//!   code, sign them with the client's key (SignWithLabel "FramedContentTBS"), compute the
//!   membership tag with the epoch's `membership_key`, and verify them against the current
//!   or a kept past epoch (the signature keys of past members come from the stored epoch
//!   tree). OpenMLS never sees them, so it cannot commit them by reference.
//! * **Welcome-only GroupInfo extensions** (subject and icon keys, 0xF005 / 0xF003): a
//!   commit that puts extensions into the Welcome's GroupInfo, and a join that returns them.
//!
//! The JSON layout mirrored here is the one OpenMLS 0.9.2 writes (serde, through any
//! `StorageProvider`: the memory store and the binding's key/value store both use
//! serde_json). A layout change in OpenMLS shows up as a `LibraryError` saying so, never as
//! a wrong value: every send decrypts the sender data of the message it made and checks
//! the generation it wrote into the payload against it.

use std::collections::HashMap;
use std::sync::{LazyLock, Mutex, MutexGuard};

use openmls::prelude::*;
use openmls_traits::crypto::OpenMlsCrypto;
use openmls_traits::signatures::Signer;
use openmls_traits::storage::{traits, Entity, StorageProvider, CURRENT_VERSION};
use openmls_traits::OpenMlsProvider;
use pyo3::prelude::*;
use pyo3::types::PyBytes;
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;
use tls_codec::{Deserialize as _, Serialize as _, VLBytes};
use zeroize::Zeroizing;

use crate::client::ClientCore;
use crate::credentials::{Credential, SignatureKeyPair, SigningKey};
use crate::error::{classify, Error, Result};
use crate::group::{extensions_from_pairs, CommitBytes, CommitResult, Group};
use crate::key_packages::KeyPackage;
use crate::types::BytesIn;

/// RCC.16 `rcs_signature` proposal: empty, bare; carries a signed receipt (RCC.16 §7.6).
pub const PROPOSAL_RCS_SIGNATURE: u16 = 0xF002;
/// RCC.16 `SelfRemove` proposal: empty, bare (OpenMLS's own SelfRemove is 0x000A).
pub const PROPOSAL_SELF_REMOVE: u16 = 0xF003;
/// RCC.16 `ServerRemove` proposal: `uint32 to_remove`, bare (4 bytes).
pub const PROPOSAL_SERVER_REMOVE: u16 = 0xF004;

const MLS10: u16 = 1;
pub(crate) const WIRE_PUBLIC: u16 = 1;
const WIRE_PRIVATE: u16 = 2;
const CONTENT_PROPOSAL: u8 = 2;
pub(crate) const SENDER_MEMBER: u8 = 1;
pub(crate) const SENDER_EXTERNAL: u8 = 2;
const LABEL_PREFIX: &str = "MLS 1.0 ";

// ---------------------------------------------------------------------------------------
// The stored MessageSecretsStore, mirrored
// ---------------------------------------------------------------------------------------

// Secret bytes (wiped on drop), in either of OpenMLS's serde forms.
use crate::secret_bytes::SerdeBytes;

/// `Secret { value: SecretVLBytes }` (ciphersuite/secret.rs).
#[derive(Serialize, Deserialize)]
struct SecretMirror {
    value: SerdeBytes,
}

/// `SenderDataSecret { secret }`, `MembershipKey { secret }` (schedule/mod.rs).
#[derive(Serialize, Deserialize)]
struct KeyMirror {
    secret: SecretMirror,
}

/// `RatchetSecret { secret, generation }` (tree/sender_ratchet.rs); only the generation.
#[derive(Serialize, Deserialize)]
struct RatchetSecretMirror {
    generation: u32,
}

/// `DecryptionRatchet { past_secrets, ratchet_head }` and the dual-use form.
#[derive(Serialize, Deserialize)]
struct RatchetHeadMirror {
    ratchet_head: RatchetSecretMirror,
}

/// `SenderRatchet` (externally tagged enum).
#[derive(Serialize, Deserialize)]
enum SenderRatchetMirror {
    EncryptionRatchet(RatchetSecretMirror),
    DecryptionRatchet(RatchetHeadMirror),
    DualUse(RatchetHeadMirror),
}

/// `SecretTree` (tree/secret_tree.rs): the own index and the application ratchets.
#[derive(Serialize, Deserialize)]
struct SecretTreeMirror {
    own_index: u32,
    application_sender_ratchets: Vec<Option<SenderRatchetMirror>>,
}

/// `MessageSecrets` (schedule/message_secrets.rs).
#[derive(Serialize, Deserialize)]
struct MessageSecretsMirror {
    sender_data_secret: KeyMirror,
    membership_key: KeyMirror,
    serialized_context: SerdeBytes,
    secret_tree: SecretTreeMirror,
}

/// `EpochTree` (group/mls_group/past_secrets.rs).
#[derive(Serialize, Deserialize)]
struct EpochTreeMirror {
    epoch: u64,
    message_secrets: MessageSecretsMirror,
    leaves: Vec<Member>,
}

/// `MessageSecretsStore` (group/mls_group/past_secrets.rs): what OpenMLS stores under
/// `message_secrets(group_id)`. Read only, never written back.
#[derive(Serialize, Deserialize)]
struct SecretsStore {
    past_epoch_trees: Vec<EpochTreeMirror>,
    message_secrets: MessageSecretsMirror,
}

impl Entity<CURRENT_VERSION> for SecretsStore {}
impl traits::MessageSecrets<CURRENT_VERSION> for SecretsStore {}

/// The same record read for the current epoch only: the past epoch trees (each with the
/// whole roster and its credentials) are skipped, not built.
#[derive(Serialize, Deserialize)]
struct CurrentSecrets {
    message_secrets: MessageSecretsMirror,
}

impl Entity<CURRENT_VERSION> for CurrentSecrets {}
impl traits::MessageSecrets<CURRENT_VERSION> for CurrentSecrets {}

fn load<T: traits::MessageSecrets<CURRENT_VERSION>>(g: &MlsGroup, c: &ClientCore) -> Result<T> {
    c.provider
        .storage()
        .message_secrets::<GroupId, T>(g.group_id())
        .map_err(|e| {
            Error::Library(format!(
                "the stored message secrets do not have the layout of OpenMLS 0.9.2: {e:?}"
            ))
        })?
        .ok_or_else(|| Error::Library("no message secrets stored for this group".into()))
}

fn load_current(g: &MlsGroup, c: &ClientCore) -> Result<MessageSecretsMirror> {
    Ok(load::<CurrentSecrets>(g, c)?.message_secrets)
}

/// The message secrets of `epoch` (the current one or a kept past one) and, for a past
/// epoch, its members; None when the group keeps no secrets for it.
fn secrets_for_epoch(
    g: &MlsGroup,
    c: &ClientCore,
    epoch: u64,
) -> Result<Option<(MessageSecretsMirror, Option<Vec<Member>>)>> {
    if epoch == g.epoch().as_u64() {
        return Ok(Some((load_current(g, c)?, None)));
    }
    let store: SecretsStore = load(g, c)?;
    Ok(store
        .past_epoch_trees
        .into_iter()
        .find(|t| t.epoch == epoch)
        .map(|t| (t.message_secrets, Some(t.leaves))))
}

fn next_generation(secrets: &MessageSecretsMirror, own: u32) -> Result<u32> {
    let tree = &secrets.secret_tree;
    if tree.own_index != own {
        return Err(Error::Library(
            "the stored secret tree is not this member's".into(),
        ));
    }
    match tree.application_sender_ratchets.get(own as usize) {
        None => Err(Error::Library(
            "the own leaf is outside the stored secret tree".into(),
        )),
        // Ratchets are created on first use, at generation 0.
        Some(None) => Ok(0),
        Some(Some(SenderRatchetMirror::EncryptionRatchet(r))) => Ok(r.generation),
        Some(Some(SenderRatchetMirror::DualUse(r))) => Ok(r.ratchet_head.generation),
        Some(Some(SenderRatchetMirror::DecryptionRatchet(_))) => Err(Error::Library(
            "the own application ratchet is a decryption ratchet".into(),
        )),
    }
}

// ---------------------------------------------------------------------------------------
// A cache of what the hot path reads from the store
// ---------------------------------------------------------------------------------------

/// Per group (of one client): the epoch, its sender data secret and, once known, the next
/// generation of this member's application ratchet. Reading them from the store means
/// deserialising the whole `MessageSecretsStore` (all kept epochs, each with its roster),
/// milliseconds in a large group; the cache saves that on every message. It is never
/// trusted blindly: a send checks the sender data of the message it made (and re-reads
/// the store on a mismatch), and a receive re-reads the store when the cached secret does
/// not decrypt.
struct Cached {
    epoch: u64,
    sender_data_secret: Zeroizing<Vec<u8>>,
    next_generation: Option<u32>,
}

/// (the client's [`ClientCore::id`], the group id): ids are never reused, so an entry
/// cannot outlive its client into another; entries are evicted on `delete_group` and when
/// the client is dropped ([`evict_cached_secrets`]).
type CacheKey = (u64, Vec<u8>);

static CACHE: LazyLock<Mutex<HashMap<CacheKey, Cached>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

fn cache_key(g: &MlsGroup, c: &ClientCore) -> CacheKey {
    (c.id, g.group_id().as_slice().to_vec())
}

fn cache() -> Result<MutexGuard<'static, HashMap<CacheKey, Cached>>> {
    Ok(crate::error::relock(&CACHE))
}

/// Forget (and wipe) the cached secrets of client `client_id`: of one group, or of all.
pub fn evict_cached_secrets(client_id: u64, group_id: Option<&[u8]>) {
    crate::error::relock(&CACHE)
        .retain(|(client, group), _| *client != client_id || group_id.is_some_and(|g| g != group));
}

/// Fill the cache for `g` as a send does (for tests).
#[cfg(test)]
pub fn cache_secrets_for_tests(g: &MlsGroup, c: &ClientCore) -> Result<()> {
    current_sender_state(g, c, true).map(|_| ())
}

/// How many groups of client `client_id` have cached secrets (for tests).
#[cfg(test)]
pub fn cached_groups(client_id: u64) -> usize {
    crate::error::relock(&CACHE)
        .keys()
        .filter(|(client, _)| *client == client_id)
        .count()
}

/// The current epoch's sender data secret and next generation, from the cache or the store.
fn current_sender_state(
    g: &MlsGroup,
    c: &ClientCore,
    fresh: bool,
) -> Result<(Zeroizing<Vec<u8>>, u32)> {
    let key = cache_key(g, c);
    let epoch = g.epoch().as_u64();
    if !fresh {
        if let Some(entry) = cache()?.get(&key) {
            if let (true, Some(generation)) = (entry.epoch == epoch, entry.next_generation) {
                return Ok((entry.sender_data_secret.clone(), generation));
            }
        }
    }
    let secrets = load_current(g, c)?;
    let generation = next_generation(&secrets, g.own_leaf_index().u32())?;
    let secret = Zeroizing::new(secrets.sender_data_secret.secret.value.as_slice().to_vec());
    cache()?.insert(
        key,
        Cached {
            epoch,
            sender_data_secret: secret.clone(),
            next_generation: Some(generation),
        },
    );
    Ok((secret, generation))
}

/// The current epoch's sender data secret, from the cache or the store.
fn current_sender_data_secret(
    g: &MlsGroup,
    c: &ClientCore,
    fresh: bool,
) -> Result<Zeroizing<Vec<u8>>> {
    let key = cache_key(g, c);
    let epoch = g.epoch().as_u64();
    if !fresh {
        if let Some(entry) = cache()?.get(&key) {
            if entry.epoch == epoch {
                return Ok(entry.sender_data_secret.clone());
            }
        }
    }
    let secrets = load_current(g, c)?;
    let secret = Zeroizing::new(secrets.sender_data_secret.secret.value.as_slice().to_vec());
    let mut map = cache()?;
    let keep = map
        .get(&key)
        .filter(|e| e.epoch == epoch)
        .and_then(|e| e.next_generation);
    map.insert(
        key,
        Cached {
            epoch,
            sender_data_secret: secret.clone(),
            next_generation: keep,
        },
    );
    Ok(secret)
}

// ---------------------------------------------------------------------------------------
// TLS helpers (RFC 9420 §2.1)
// ---------------------------------------------------------------------------------------

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

    /// An RFC 9420 §2.1.2 variable-length vector, minimally encoded.
    fn vl(&mut self) -> Result<&'a [u8]> {
        let first = self.u8()?;
        let (len, min) = match first >> 6 {
            0 => (u64::from(first & 0x3f), 0),
            1 => (
                (u64::from(first & 0x3f) << 8) | u64::from(self.u8()?),
                1 << 6,
            ),
            2 => {
                let rest = self.take(3)?;
                (
                    (u64::from(first & 0x3f) << 24)
                        | (u64::from(rest[0]) << 16)
                        | (u64::from(rest[1]) << 8)
                        | u64::from(rest[2]),
                    1 << 14,
                )
            }
            _ => return Err(Error::Parse("invalid variable-length integer".into())),
        };
        if len < min {
            return Err(Error::Parse(
                "variable-length integer not minimally encoded".into(),
            ));
        }
        let len = usize::try_from(len).map_err(|_| Error::Parse("vector too long".into()))?;
        self.take(len)
    }

    fn done(&self) -> bool {
        self.pos == self.data.len()
    }
}

pub(crate) fn put_vl(out: &mut Vec<u8>, data: &[u8]) -> Result<()> {
    VLBytes::from(data.to_vec())
        .tls_serialize(out)
        .map(|_| ())
        .map_err(|e| Error::InvalidArgument(format!("vector too long: {e}")))
}

/// ExpandWithLabel(secret, label, context, length) (RFC 9420 §5.1.3).
fn expand_with_label(
    c: &ClientCore,
    suite: Ciphersuite,
    secret: &[u8],
    label: &str,
    context: &[u8],
    length: usize,
) -> Result<Zeroizing<Vec<u8>>> {
    let len16 = u16::try_from(length).map_err(|_| Error::Library("length too long".into()))?;
    let mut info = len16.to_be_bytes().to_vec();
    put_vl(&mut info, format!("{LABEL_PREFIX}{label}").as_bytes())?;
    put_vl(&mut info, context)?;
    let okm = c
        .provider
        .crypto()
        .hkdf_expand(suite.hash_algorithm(), secret, &info, length)
        .map_err(|e| Error::Library(format!("hkdf_expand: {e:?}")))?;
    Ok(Zeroizing::new(okm.as_slice().to_vec()))
}

/// `SignContent { opaque label<V>; opaque content<V>; }` (RFC 9420 §5.1.2).
fn sign_content(label: &str, content: &[u8]) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(content.len() + 40);
    put_vl(&mut out, format!("{LABEL_PREFIX}{label}").as_bytes())?;
    put_vl(&mut out, content)?;
    Ok(out)
}

// ---------------------------------------------------------------------------------------
// Message headers
// ---------------------------------------------------------------------------------------

/// The fields of a PrivateMessage (RFC 9420 §6.3).
struct PrivateMessageParts<'a> {
    group_id: &'a [u8],
    epoch: u64,
    content_type: u8,
    encrypted_sender_data: &'a [u8],
    ciphertext: &'a [u8],
}

fn parse_private(data: &[u8]) -> Result<PrivateMessageParts<'_>> {
    let mut r = Reader::new(data);
    if r.u16()? != MLS10 {
        return Err(Error::Parse("not an MLS 1.0 message".into()));
    }
    if r.u16()? != WIRE_PRIVATE {
        return Err(Error::InvalidArgument("not a PrivateMessage".into()));
    }
    let group_id = r.vl()?;
    let epoch = r.u64()?;
    let content_type = r.u8()?;
    let _aad = r.vl()?;
    let encrypted_sender_data = r.vl()?;
    let ciphertext = r.vl()?;
    if !r.done() {
        return Err(Error::Parse("bytes after the PrivateMessage".into()));
    }
    Ok(PrivateMessageParts {
        group_id,
        epoch,
        content_type,
        encrypted_sender_data,
        ciphertext,
    })
}

/// Decrypt the sender data of a PrivateMessage (RFC 9420 §6.3.2): `(leaf, generation)`,
/// or None when the AEAD fails.
fn decrypt_sender_data(
    c: &ClientCore,
    suite: Ciphersuite,
    sender_data_secret: &[u8],
    m: &PrivateMessageParts<'_>,
) -> Result<Option<(u32, u32)>> {
    let nh = suite.hash_length();
    let sample = &m.ciphertext[..m.ciphertext.len().min(nh)];
    let key = expand_with_label(
        c,
        suite,
        sender_data_secret,
        "key",
        sample,
        suite.aead_key_length(),
    )?;
    let nonce = expand_with_label(
        c,
        suite,
        sender_data_secret,
        "nonce",
        sample,
        suite.aead_nonce_length(),
    )?;
    // SenderDataAAD { opaque group_id<V>; uint64 epoch; ContentType content_type; }
    let mut aad = Vec::with_capacity(m.group_id.len() + 13);
    put_vl(&mut aad, m.group_id)?;
    aad.extend_from_slice(&m.epoch.to_be_bytes());
    aad.push(m.content_type);
    let Ok(plain) = c.provider.crypto().aead_decrypt(
        suite.aead_algorithm(),
        &key,
        m.encrypted_sender_data,
        &nonce,
        &aad,
    ) else {
        return Ok(None);
    };
    // SenderData { uint32 leaf_index; uint32 generation; opaque reuse_guard[4]; }
    if plain.len() != 12 {
        return Ok(None);
    }
    let leaf = u32::from_be_bytes([plain[0], plain[1], plain[2], plain[3]]);
    let generation = u32::from_be_bytes([plain[4], plain[5], plain[6], plain[7]]);
    Ok(Some((leaf, generation)))
}

/// The header of any MLSMessage: wire format and, for Public/PrivateMessage, group id,
/// epoch and content type (the PublicMessage content type follows the sender and the
/// authenticated data).
type MessageInfo = (u16, Option<Vec<u8>>, Option<u64>, Option<u8>);

fn message_info(data: &[u8]) -> Result<MessageInfo> {
    let mut r = Reader::new(data);
    if r.u16()? != MLS10 {
        return Err(Error::Parse("not an MLS 1.0 message".into()));
    }
    let wire = r.u16()?;
    match wire {
        WIRE_PUBLIC => {
            let gid = r.vl()?.to_vec();
            let epoch = r.u64()?;
            match r.u8()? {
                SENDER_MEMBER | SENDER_EXTERNAL => {
                    r.u32()?;
                }
                3 | 4 => {}
                _ => return Err(Error::Parse("unknown sender type".into())),
            }
            r.vl()?;
            let ct = r.u8()?;
            Ok((wire, Some(gid), Some(epoch), Some(ct)))
        }
        WIRE_PRIVATE => {
            let gid = r.vl()?.to_vec();
            let epoch = r.u64()?;
            let ct = r.u8()?;
            Ok((wire, Some(gid), Some(epoch), Some(ct)))
        }
        3..=5 => Ok((wire, None, None, None)),
        _ => Err(Error::Parse(format!("unknown wire format {wire}"))),
    }
}

// ---------------------------------------------------------------------------------------
// Bare RCC.16 proposals in PublicMessages
// ---------------------------------------------------------------------------------------

fn bare_body_len(proposal_type: u16) -> Option<usize> {
    match proposal_type {
        PROPOSAL_RCS_SIGNATURE | PROPOSAL_SELF_REMOVE => Some(0),
        PROPOSAL_SERVER_REMOVE => Some(4),
        _ => None,
    }
}

pub(crate) struct BareProposal<'a> {
    pub(crate) group_id: &'a [u8],
    pub(crate) epoch: u64,
    pub(crate) sender_type: u8,
    pub(crate) sender_index: u32,
    pub(crate) authenticated_data: &'a [u8],
    pub(crate) proposal_type: u16,
    pub(crate) body: &'a [u8],
    /// The FramedContent bytes (signed and MACed).
    pub(crate) content: &'a [u8],
    pub(crate) signature: &'a [u8],
    pub(crate) membership_tag: Option<&'a [u8]>,
}

/// Parse a PublicMessage whose content is one proposal: bare for the RCC.16 types, in the
/// RFC 9420 encoding for the others.
pub(crate) fn parse_bare(data: &[u8]) -> Result<BareProposal<'_>> {
    let mut r = Reader::new(data);
    if r.u16()? != MLS10 {
        return Err(Error::Parse("not an MLS 1.0 message".into()));
    }
    if r.u16()? != WIRE_PUBLIC {
        return Err(Error::Parse("not a PublicMessage".into()));
    }
    let start = r.pos;
    let group_id = r.vl()?;
    let epoch = r.u64()?;
    let sender_type = r.u8()?;
    let sender_index = match sender_type {
        SENDER_MEMBER | SENDER_EXTERNAL => r.u32()?,
        _ => {
            return Err(Error::Parse(
                "an RCC.16 proposal comes from a member or an external sender".into(),
            ))
        }
    };
    let authenticated_data = r.vl()?;
    if r.u8()? != CONTENT_PROPOSAL {
        return Err(Error::Parse("the PublicMessage is not a proposal".into()));
    }
    let type_at = r.pos;
    let proposal_type = r.u16()?;
    let len = match bare_body_len(proposal_type) {
        Some(len) => len,
        None => {
            // Any other proposal in its RFC 9420 encoding, as OpenMLS decodes it: lets the
            // verification below be checked against OpenMLS's own proposals.
            let mut rest = &data[type_at..];
            let before = rest.len();
            ProposalIn::tls_deserialize(&mut rest)
                .map_err(|e| Error::Parse(format!("not a proposal: {e}")))?;
            (before - rest.len()).saturating_sub(2)
        }
    };
    let body = r.take(len)?;
    let content = &data[start..r.pos];
    let signature = r.vl()?;
    let membership_tag = if sender_type == SENDER_MEMBER {
        Some(r.vl()?)
    } else {
        None
    };
    if !r.done() {
        return Err(Error::Parse("bytes after the PublicMessage".into()));
    }
    Ok(BareProposal {
        group_id,
        epoch,
        sender_type,
        sender_index,
        authenticated_data,
        proposal_type,
        body,
        content,
        signature,
        membership_tag,
    })
}

/// FramedContentTBS (RFC 9420 §6.1) of a PublicMessage; the GroupContext is appended for
/// member senders only.
fn content_tbs(content: &[u8], context: Option<&[u8]>) -> Vec<u8> {
    let mut tbs = Vec::with_capacity(content.len() + 4 + context.map_or(0, <[u8]>::len));
    tbs.extend_from_slice(&MLS10.to_be_bytes());
    tbs.extend_from_slice(&WIRE_PUBLIC.to_be_bytes());
    tbs.extend_from_slice(content);
    if let Some(ctx) = context {
        tbs.extend_from_slice(ctx);
    }
    tbs
}

fn build_bare(
    g: &MlsGroup,
    c: &ClientCore,
    proposal_type: u16,
    body: &[u8],
    aad: &[u8],
) -> Result<Vec<u8>> {
    if bare_body_len(proposal_type) != Some(body.len()) {
        return Err(Error::InvalidArgument(format!(
            "proposal 0x{proposal_type:04x}: 0xF002 and 0xF003 are empty, 0xF004 is 4 bytes"
        )));
    }
    if !g.is_active() {
        return Err(Error::GroupState(
            "this member was removed from the group".into(),
        ));
    }
    let suite = g.ciphersuite();
    let secrets = load_current(g, c)?;
    let context = secrets.serialized_context.as_slice();
    let mut content = Vec::with_capacity(aad.len() + g.group_id().as_slice().len() + 24);
    put_vl(&mut content, g.group_id().as_slice())?;
    content.extend_from_slice(&g.epoch().as_u64().to_be_bytes());
    content.push(SENDER_MEMBER);
    content.extend_from_slice(&g.own_leaf_index().u32().to_be_bytes());
    put_vl(&mut content, aad)?;
    content.push(CONTENT_PROPOSAL);
    content.extend_from_slice(&proposal_type.to_be_bytes());
    content.extend_from_slice(body);

    let tbs = content_tbs(&content, Some(context));
    let signature = c
        .signer
        .sign(&sign_content("FramedContentTBS", &tbs)?)
        .map_err(|e| Error::Library(format!("signing: {e:?}")))?;
    let mut auth = Vec::with_capacity(signature.len() + 2);
    put_vl(&mut auth, &signature)?;
    let mut tbm = tbs;
    tbm.extend_from_slice(&auth);
    let tag = c
        .provider
        .crypto()
        .hmac(
            suite.hash_algorithm(),
            secrets.membership_key.secret.value.as_slice(),
            &tbm,
        )
        .map_err(|e| Error::Library(format!("hmac: {e:?}")))?;

    let mut out = Vec::with_capacity(content.len() + auth.len() + 40);
    out.extend_from_slice(&MLS10.to_be_bytes());
    out.extend_from_slice(&WIRE_PUBLIC.to_be_bytes());
    out.extend_from_slice(&content);
    out.extend_from_slice(&auth);
    put_vl(&mut out, tag.as_slice())?;
    Ok(out)
}

/// A PublicMessage from an external sender (RFC 9420 §6: no GroupContext in the signed
/// content, no membership tag) carrying one bare RCC.16 proposal: a server's ServerRemove.
fn build_external_bare(
    signer: &SigningKey,
    group_id: &[u8],
    epoch: u64,
    sender_index: u32,
    proposal_type: u16,
    body: &[u8],
    aad: &[u8],
) -> Result<Vec<u8>> {
    if bare_body_len(proposal_type) != Some(body.len()) {
        return Err(Error::InvalidArgument(format!(
            "proposal 0x{proposal_type:04x}: 0xF002 and 0xF003 are empty, 0xF004 is 4 bytes"
        )));
    }
    let mut content = Vec::with_capacity(aad.len() + group_id.len() + 24);
    put_vl(&mut content, group_id)?;
    content.extend_from_slice(&epoch.to_be_bytes());
    content.push(SENDER_EXTERNAL);
    content.extend_from_slice(&sender_index.to_be_bytes());
    put_vl(&mut content, aad)?;
    content.push(CONTENT_PROPOSAL);
    content.extend_from_slice(&proposal_type.to_be_bytes());
    content.extend_from_slice(body);
    let tbs = content_tbs(&content, None);
    let signature = signer
        .sign(&sign_content("FramedContentTBS", &tbs)?)
        .map_err(|e| Error::Library(format!("signing: {e:?}")))?;
    let mut out = Vec::with_capacity(content.len() + signature.len() + 8);
    out.extend_from_slice(&MLS10.to_be_bytes());
    out.extend_from_slice(&WIRE_PUBLIC.to_be_bytes());
    out.extend_from_slice(&content);
    put_vl(&mut out, &signature)?;
    Ok(out)
}

/// The signature key of an external sender (RFC 9420 §12.1.8.1), from the current
/// GroupContext.
fn external_sender_key(g: &MlsGroup, index: u32) -> Result<Vec<u8>> {
    let senders = g
        .extensions()
        .external_senders()
        .ok_or_else(|| Error::Validation("the group has no external senders".into()))?;
    let sender = senders
        .get(index as usize)
        .ok_or_else(|| Error::Validation(format!("no external sender {index}")))?;
    // ExternalSender { SignaturePublicKey signature_key; Credential credential; }
    let bytes = sender
        .tls_serialize_detached()
        .map_err(|e| Error::Library(e.to_string()))?;
    let mut r = Reader::new(&bytes);
    Ok(r.vl()?.to_vec())
}

/// A verified proposal, without the GIL.
pub struct VerifiedProposal {
    pub(crate) sender_type: u8,
    pub(crate) sender_index: u32,
    pub(crate) proposal_type: u16,
    pub(crate) body: Vec<u8>,
    pub(crate) authenticated_data: Vec<u8>,
    pub(crate) epoch: u64,
    pub(crate) credential: Option<openmls::prelude::Credential>,
    pub(crate) signature_key: Vec<u8>,
    /// The member sender's leaf encryption key in that epoch (empty for an external one):
    /// with the signature key, it tells whether a leaf still holds the same leaf node.
    pub(crate) encryption_key: Vec<u8>,
}

pub(crate) fn verify_bare(g: &MlsGroup, c: &ClientCore, data: &[u8]) -> Result<VerifiedProposal> {
    let p = parse_bare(data)?;
    if p.group_id != g.group_id().as_slice() {
        return Err(Error::Validation("the message is for another group".into()));
    }
    let suite = g.ciphersuite();
    let current = g.epoch().as_u64();
    let crypto = c.provider.crypto();
    let mut encryption_key = Vec::new();
    let (key, context, credential) = if p.sender_type == SENDER_MEMBER {
        let (secrets, past_leaves) = secrets_for_epoch(g, c, p.epoch)?.ok_or_else(|| {
            Error::WrongEpoch(format!(
                "the proposal is for epoch {}, the group is at epoch {current} and keeps \
                     no secrets for it",
                p.epoch
            ))
        })?;
        let member = match past_leaves {
            None => g.member_at(LeafNodeIndex::new(p.sender_index)),
            Some(leaves) => leaves
                .iter()
                .find(|m| m.index.u32() == p.sender_index)
                .cloned(),
        }
        .ok_or_else(|| {
            Error::Validation(format!(
                "no member at leaf {} in epoch {}",
                p.sender_index, p.epoch
            ))
        })?;
        let context = secrets.serialized_context.as_slice().to_vec();
        let mut tbm = content_tbs(p.content, Some(&context));
        put_vl(&mut tbm, p.signature)?;
        let expected = crypto
            .hmac(
                suite.hash_algorithm(),
                secrets.membership_key.secret.value.as_slice(),
                &tbm,
            )
            .map_err(|e| Error::Library(format!("hmac: {e:?}")))?;
        let tag = p.membership_tag.unwrap_or_default();
        if !bool::from(expected.as_slice().ct_eq(tag)) {
            return Err(Error::InvalidSignature("invalid membership tag".into()));
        }
        encryption_key = member.encryption_key;
        (member.signature_key, Some(context), Some(member.credential))
    } else {
        if p.epoch != current {
            return Err(Error::WrongEpoch(
                "an external proposal is verified in the current epoch only".into(),
            ));
        }
        (external_sender_key(g, p.sender_index)?, None, None)
    };
    let tbs = content_tbs(p.content, context.as_deref());
    crypto
        .verify_signature(
            suite.signature_algorithm(),
            &sign_content("FramedContentTBS", &tbs)?,
            &key,
            p.signature,
        )
        .map_err(|_| Error::InvalidSignature("invalid proposal signature".into()))?;
    Ok(VerifiedProposal {
        sender_type: p.sender_type,
        sender_index: p.sender_index,
        proposal_type: p.proposal_type,
        body: p.body.to_vec(),
        authenticated_data: p.authenticated_data.to_vec(),
        epoch: p.epoch,
        credential,
        signature_key: key,
        encryption_key,
    })
}

// ---------------------------------------------------------------------------------------
// Python exports
// ---------------------------------------------------------------------------------------

/// The MLS generation the group's next application message will use (this member's
/// application ratchet in the current epoch).
#[pyfunction]
fn rcs_next_generation(py: Python<'_>, group: PyRef<'_, Group>) -> PyResult<u32> {
    group.with(py, |g, c| Ok(current_sender_state(g, c, true)?.1))
}

/// Encrypt `plaintext` as an application message after writing, big-endian at
/// `generation_offset`, the generation the message is encrypted with. One lock: no other
/// message can take the generation in between. Returns `(message, generation)`.
#[pyfunction]
#[pyo3(signature = (group, plaintext, *, authenticated_data=None, generation_offset=4))]
fn rcs_encrypt_with_generation<'py>(
    py: Python<'py>,
    group: PyRef<'_, Group>,
    plaintext: BytesIn,
    authenticated_data: Option<BytesIn>,
    generation_offset: usize,
) -> PyResult<(Bound<'py, PyBytes>, u32)> {
    let aad = authenticated_data.map(|a| a.to_vec()).unwrap_or_default();
    let mut plain = plaintext.to_vec();
    let end = generation_offset
        .checked_add(4)
        .filter(|e| *e <= plain.len())
        .ok_or_else(|| Error::InvalidArgument("generation_offset outside the plaintext".into()))?;
    let (bytes, generation) = group.with(py, move |g, c| {
        if g.pending_commit().is_some() {
            return Err(Error::GroupState(
                "a commit is pending: merge or clear it before sending".into(),
            ));
        }
        let own = g.own_leaf_index().u32();
        let suite = g.ciphersuite();
        // Two attempts: the cached state may be stale (another process or a plain
        // `Group.encrypt` moved the ratchet); then the store is read afresh. A message
        // made with a stale generation is dropped: it only leaves a gap in the ratchet.
        for fresh in [false, true] {
            let (secret, generation) = current_sender_state(g, c, fresh)?;
            plain[generation_offset..end].copy_from_slice(&generation.to_be_bytes());
            g.set_aad(aad.clone());
            let out = g
                .create_message(&c.provider, &*c.signer, &plain)
                .map_err(classify)?;
            let bytes = out.to_bytes().map_err(|e| Error::Library(e.to_string()))?;
            // What a receiver will read: the sender data of the message just made must
            // name this leaf and the generation written into the payload.
            let sender = decrypt_sender_data(c, suite, &secret, &parse_private(&bytes)?)?;
            if sender == Some((own, generation)) {
                if let Some(entry) = cache()?.get_mut(&cache_key(g, c)) {
                    entry.next_generation = generation.checked_add(1);
                }
                return Ok((bytes, generation));
            }
        }
        // Even the state read afresh from the store disagrees with what OpenMLS sent.
        Err(Error::Library(
            "the generation read from the store is not the one OpenMLS sent with: the \
             stored secret layout is not the one this binding reads"
                .into(),
        ))
    })?;
    Ok((PyBytes::new(py, &bytes), generation))
}

/// The sender of a PrivateMessage of this group, from its decrypted sender data:
/// `(leaf_index, generation, epoch)`, or None when this member holds no secrets for the
/// message's epoch or the sender data does not decrypt. Call it before
/// `process_message`; the group is not changed.
#[pyfunction]
fn rcs_private_message_sender(
    py: Python<'_>,
    group: PyRef<'_, Group>,
    message: BytesIn,
) -> PyResult<Option<(u32, u32, u64)>> {
    group.with(py, |g, c| {
        let m = parse_private(&message)?;
        if m.group_id != g.group_id().as_slice() {
            return Err(Error::Validation("the message is for another group".into()));
        }
        let suite = g.ciphersuite();
        if m.epoch == g.epoch().as_u64() {
            // The cached secret first; if it does not decrypt, the one in the store.
            for fresh in [false, true] {
                let secret = current_sender_data_secret(g, c, fresh)?;
                if let Some((leaf, generation)) = decrypt_sender_data(c, suite, &secret, &m)? {
                    return Ok(Some((leaf, generation, m.epoch)));
                }
            }
            return Ok(None);
        }
        let Some((secrets, _)) = secrets_for_epoch(g, c, m.epoch)? else {
            return Ok(None);
        };
        let sender = decrypt_sender_data(
            c,
            suite,
            secrets.sender_data_secret.secret.value.as_slice(),
            &m,
        )?;
        Ok(sender.map(|(leaf, generation)| (leaf, generation, m.epoch)))
    })
}

/// The header of an MLSMessage: `(wire_format, group_id, epoch, content_type)`; the last
/// three are None for a Welcome, GroupInfo or KeyPackage. For a delivery service that
/// routes messages without decrypting them.
#[pyfunction]
fn rcs_message_info(py: Python<'_>, message: BytesIn) -> PyResult<MessageInfoPy<'_>> {
    let (wire, gid, epoch, ct) = message_info(&message)?;
    Ok((wire, gid.map(|g| PyBytes::new(py, &g)), epoch, ct))
}

type MessageInfoPy<'py> = (u16, Option<Bound<'py, PyBytes>>, Option<u64>, Option<u8>);

/// A PublicMessage carrying one bare RCC.16 proposal (0xF002 `rcs_signature`, 0xF003
/// `SelfRemove`, 0xF004 `ServerRemove`) from this member, signed and with its membership
/// tag, as MLSMessage bytes. OpenMLS does not store it: it cannot be committed by
/// reference by an OpenMLS member (see docs/openmls-gaps.md).
#[pyfunction]
#[pyo3(signature = (group, proposal_type, body=None, *, authenticated_data=None))]
fn rcs_create_proposal<'py>(
    py: Python<'py>,
    group: PyRef<'_, Group>,
    proposal_type: u16,
    body: Option<BytesIn>,
    authenticated_data: Option<BytesIn>,
) -> PyResult<Bound<'py, PyBytes>> {
    let body = body.map(|b| b.to_vec()).unwrap_or_default();
    let aad = authenticated_data.map(|a| a.to_vec()).unwrap_or_default();
    let bytes = group.with(py, |g, c| build_bare(g, c, proposal_type, &body, &aad))?;
    Ok(PyBytes::new(py, &bytes))
}

/// A PublicMessage from an external sender of a group (a server listed in its
/// external_senders extension, at `sender_index`) carrying one bare RCC.16 proposal,
/// typically 0xF004 ServerRemove (`body` = uint32 leaf index), signed with
/// `signature_keys`. For a delivery service, and for tests.
#[pyfunction]
#[pyo3(signature = (signature_keys, group_id, epoch, sender_index, proposal_type, body=None, *, authenticated_data=None))]
#[allow(clippy::too_many_arguments)]
fn rcs_create_external_proposal<'py>(
    py: Python<'py>,
    signature_keys: PyRef<'_, SignatureKeyPair>,
    group_id: BytesIn,
    epoch: u64,
    sender_index: u32,
    proposal_type: u16,
    body: Option<BytesIn>,
    authenticated_data: Option<BytesIn>,
) -> PyResult<Bound<'py, PyBytes>> {
    let signer = signature_keys.inner.clone();
    let body = body.map(|b| b.to_vec()).unwrap_or_default();
    let aad = authenticated_data.map(|a| a.to_vec()).unwrap_or_default();
    let bytes = crate::error::detach(py, || {
        build_external_bare(
            &signer,
            &group_id,
            epoch,
            sender_index,
            proposal_type,
            &body,
            &aad,
        )
    })?;
    Ok(PyBytes::new(py, &bytes))
}

type ParsedProposalPy<'py> = (
    Bound<'py, PyBytes>,
    u64,
    u8,
    u32,
    u16,
    Bound<'py, PyBytes>,
    Bound<'py, PyBytes>,
);

/// Parse (without verifying) a PublicMessage carrying one proposal, bare for the RCC.16
/// types 0xF002-0xF004: `(group_id, epoch, sender_type, sender_index, proposal_type,
/// body, authenticated_data)`. Raises ParseError for anything else.
#[pyfunction]
fn rcs_parse_proposal(py: Python<'_>, message: BytesIn) -> PyResult<ParsedProposalPy<'_>> {
    let p = parse_bare(&message)?;
    Ok((
        PyBytes::new(py, p.group_id),
        p.epoch,
        p.sender_type,
        p.sender_index,
        p.proposal_type,
        PyBytes::new(py, p.body),
        PyBytes::new(py, p.authenticated_data),
    ))
}

/// A proposal whose membership tag and signature verified (:func:`rcs_verify_proposal`).
#[pyclass(frozen, module = "rcs_mls._native", name = "RcsVerifiedProposal")]
pub struct VerifiedProposalOut {
    /// 1: a member; 2: an external sender (RFC 9420 `SenderType`).
    #[pyo3(get)]
    sender_type: u8,
    /// The member's leaf index, or the index in `external_senders`.
    #[pyo3(get)]
    sender_index: u32,
    #[pyo3(get)]
    proposal_type: u16,
    #[pyo3(get)]
    body: Py<PyBytes>,
    #[pyo3(get)]
    authenticated_data: Py<PyBytes>,
    /// The epoch the proposal names, in which it was verified.
    #[pyo3(get)]
    epoch: u64,
    /// The member sender's credential in that epoch (None for an external sender).
    #[pyo3(get)]
    credential: Option<Py<Credential>>,
    /// The key the signature verified with (the sender's in that epoch).
    #[pyo3(get)]
    signature_key: Py<PyBytes>,
    /// The member sender's leaf encryption key in that epoch (empty for an external one).
    #[pyo3(get)]
    encryption_key: Py<PyBytes>,
}

#[pymethods]
impl VerifiedProposalOut {
    fn __repr__(&self) -> String {
        format!(
            "RcsVerifiedProposal(sender_type={}, sender_index={}, proposal_type=0x{:04x}, epoch={})",
            self.sender_type, self.sender_index, self.proposal_type, self.epoch
        )
    }
}

/// Verify a proposal PublicMessage of this group (bare for the RCC.16 types, so OpenMLS
/// cannot process them; any other proposal too): the membership tag and the signature of a
/// member sender against the message's epoch (the current one or a past one whose secrets
/// the group keeps, with the member's key of that epoch), or the signature of an external
/// sender (current epoch).
#[pyfunction]
fn rcs_verify_proposal(
    py: Python<'_>,
    group: PyRef<'_, Group>,
    message: BytesIn,
) -> PyResult<VerifiedProposalOut> {
    let v = group.with(py, |g, c| verify_bare(g, c, &message))?;
    Ok(VerifiedProposalOut {
        sender_type: v.sender_type,
        sender_index: v.sender_index,
        proposal_type: v.proposal_type,
        body: PyBytes::new(py, &v.body).unbind(),
        authenticated_data: PyBytes::new(py, &v.authenticated_data).unbind(),
        epoch: v.epoch,
        credential: v
            .credential
            .map(|inner| Py::new(py, Credential { inner }))
            .transpose()?,
        signature_key: PyBytes::new(py, &v.signature_key).unbind(),
        encryption_key: PyBytes::new(py, &v.encryption_key).unbind(),
    })
}

/// One commit (adds, removes, new group context extensions, pending proposals) whose
/// Welcome carries `welcome_extensions` in its GroupInfo: RCC.16's Welcome-only secrets
/// (subject key 0xF005, icon key 0xF003). The commit's own GroupInfo would carry them too,
/// so none is returned: export one with `Group.export_group_info` after the merge.
#[pyfunction]
#[pyo3(signature = (group, *, add=Vec::new(), remove=Vec::new(), group_context_extensions=None, welcome_extensions=Vec::new(), proposals=Vec::new()))]
fn rcs_commit(
    py: Python<'_>,
    group: PyRef<'_, Group>,
    add: Vec<PyRef<'_, KeyPackage>>,
    remove: Vec<u32>,
    group_context_extensions: Option<Vec<(u16, Vec<u8>)>>,
    welcome_extensions: Vec<(u16, Vec<u8>)>,
    proposals: Vec<Vec<u8>>,
) -> PyResult<CommitResult> {
    let adds: Vec<openmls::prelude::KeyPackage> = add.iter().map(|k| k.inner.clone()).collect();
    let gce = group_context_extensions
        .map(|e| {
            extensions_from_pairs(&e).and_then(|v| {
                Extensions::from_vec(v)
                    .map_err(|e| Error::InvalidArgument(format!("extensions: {e}")))
            })
        })
        .transpose()?;
    let gi_exts = extensions_from_pairs(&welcome_extensions)?;
    let out = group.with(py, move |g, c| {
        if g.pending_commit().is_some() {
            return Err(Error::GroupState("a commit is already pending".into()));
        }
        if !g.is_active() {
            return Err(Error::GroupState(
                "this member was removed from the group".into(),
            ));
        }
        let own = g.own_leaf_index().u32();
        for r in &remove {
            if *r == own {
                return Err(Error::InvalidArgument(
                    "cannot remove yourself by commit".into(),
                ));
            }
            if g.member_at(LeafNodeIndex::new(*r)).is_none() {
                return Err(Error::InvalidArgument(format!("no member at leaf {r}")));
            }
        }
        // Bare leave requests are committed by reference: queued for this commit only.
        let queued = crate::rcs_by_reference::queue(g, c, &proposals)?;
        let bundle = (|| {
            let mut builder = g
                .commit_builder()
                .consume_proposal_store(true)
                .propose_adds(adds)
                .propose_removals(remove.into_iter().map(LeafNodeIndex::new));
            if let Some(exts) = gce {
                builder = builder
                    .propose_group_context_extensions(exts)
                    .map_err(classify)?;
            }
            let mut loaded = builder.load_psks(c.provider.storage()).map_err(classify)?;
            if !gi_exts.is_empty() {
                loaded = loaded
                    .create_group_info_with_extensions(gi_exts)
                    .map_err(|e| Error::InvalidArgument(format!("GroupInfo extensions: {e}")))?;
            }
            loaded
                .build(c.provider.rand(), c.provider.crypto(), &*c.signer, |_| true)
                .map_err(classify)?
                .stage_commit(&c.provider)
                .map_err(classify)
        })();
        crate::rcs_by_reference::unqueue(g, c, &queued);
        let mut bytes = CommitBytes::from_bundle(bundle?)?;
        bytes.group_info = None;
        Ok(bytes)
    })?;
    Ok(out.into_py(py))
}

/// The RFC 9420 proposal reference (§5.2) of a proposal PublicMessage of this group's
/// ciphersuite, bare RCC.16 proposals included: what a commit by reference names.
#[pyfunction]
fn rcs_proposal_ref<'py>(
    py: Python<'py>,
    group: PyRef<'_, Group>,
    message: BytesIn,
) -> PyResult<Bound<'py, PyBytes>> {
    let r = group.with(py, |g, c| {
        let p = parse_bare(&message)?;
        crate::rcs_by_reference::proposal_ref(&p, g.ciphersuite(), c)
    })?;
    Ok(PyBytes::new(py, r.as_slice()))
}

/// :meth:`Group.process_message` for a group whose members may commit RCC.16 leave
/// requests by reference: ``proposals`` are the bare SelfRemove (0xF003) and ServerRemove
/// (0xF004) PublicMessages of the current epoch received so far (verified again here),
/// made available to a commit that references them.
///
/// ``journal=(entry_id, context)`` also writes a decrypted application message, with
/// ``context``, to the conversation journal in the same store transaction (see
/// ``rcs_load_conversation``).
#[pyfunction]
#[pyo3(signature = (group, message, *, proposals=Vec::new(), journal=None))]
fn rcs_process_message(
    py: Python<'_>,
    group: PyRef<'_, Group>,
    message: BytesIn,
    proposals: Vec<Vec<u8>>,
    journal: Option<(Vec<u8>, Vec<u8>)>,
) -> PyResult<Py<PyAny>> {
    group.process_around(
        py,
        &message,
        move |g, c| crate::rcs_by_reference::queue(g, c, &proposals),
        journal,
    )
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(rcs_process_message, m)?)?;
    m.add_function(wrap_pyfunction!(rcs_proposal_ref, m)?)?;
    m.add_class::<VerifiedProposalOut>()?;
    m.add_function(wrap_pyfunction!(rcs_next_generation, m)?)?;
    m.add_function(wrap_pyfunction!(rcs_encrypt_with_generation, m)?)?;
    m.add_function(wrap_pyfunction!(rcs_private_message_sender, m)?)?;
    m.add_function(wrap_pyfunction!(rcs_message_info, m)?)?;
    m.add_function(wrap_pyfunction!(rcs_create_proposal, m)?)?;
    m.add_function(wrap_pyfunction!(rcs_create_external_proposal, m)?)?;
    m.add_function(wrap_pyfunction!(rcs_parse_proposal, m)?)?;
    m.add_function(wrap_pyfunction!(rcs_verify_proposal, m)?)?;
    m.add_function(wrap_pyfunction!(rcs_commit, m)?)?;
    m.add("RCS_PROPOSAL_RCS_SIGNATURE", PROPOSAL_RCS_SIGNATURE)?;
    m.add("RCS_PROPOSAL_SELF_REMOVE", PROPOSAL_SELF_REMOVE)?;
    m.add("RCS_PROPOSAL_SERVER_REMOVE", PROPOSAL_SERVER_REMOVE)?;
    Ok(())
}
