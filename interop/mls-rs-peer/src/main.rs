//! A JSON-lines interop peer around mls-rs (AWS), for the rcs-mls interop tests.
//!
//! The peer reads one JSON object per line on stdin and writes exactly one JSON object per
//! line on stdout, in order. A request is `{"op": "<name>", ...arguments}`; the answer is
//! `{"result": {...}}` on success and `{"error": "<message>"}` on failure. The peer never
//! exits on a failed request (a panic inside mls-rs is caught and reported as an error);
//! it exits on end of input or on `{"op": "shutdown"}`.
//!
//! All binary values (identities, key packages, MLSMessages, secrets, ...) are lower-case
//! hex strings. Clients and groups are named by integer handles the peer hands out.
//!
//! Commits created by the peer (`add`, `remove`, `update`, `commit_pending`) stay pending
//! until `apply_pending_commit` (or `"apply": true` in the request, or processing the commit
//! message itself, which mls-rs recognises as its own pending commit); `clear_pending_commit`
//! drops one. Commits received through `process` are applied at once (mls-rs semantics).
//!
//! Wire format: every client is created with `encrypt_handshake` (default `true`): handshake
//! messages (proposals, commits) by members are sent as PrivateMessage, otherwise as
//! PublicMessage. Application messages are always PrivateMessage, padded per `padding`
//! (`none` by default, `padme` or `step`). Incoming messages of either wire format are
//! accepted. Commits that add members produce a single Welcome for all new members, with
//! the ratchet tree in it unless the client was created with `ratchet_tree_extension:
//! false` (then fetch it with `ratchet_tree` and pass it out of band). `group_info` carries
//! the external_pub extension, and the ratchet tree unless `with_ratchet_tree: false`.
//!
//! Ops (arguments -> result fields; `?` marks optional arguments):
//!
//! | op                     | arguments                                              | result                                   |
//! |------------------------|--------------------------------------------------------|------------------------------------------|
//! | `ping`                 |                                                        | `pong`                                   |
//! | `create_client`        | `identity`, `suite`, `encrypt_handshake?`, `ratchet_tree_extension?`, `padding?`, `x509_chain?`, `signature_secret_key?`, `extension_types?`, `proposal_types?`, `permissive_identity?`, `rcc16?` | `client`, `signature_key` |
//! | `key_package`          | `client`, `last_resort?`                               | `key_package`                            |
//! | `create_group`         | `client`, `group_id?`, `extensions?` ([type, hex] pairs), `required_extensions?`, `required_proposals?`, `external_senders?` | `group`, `group_id` |
//! | `external_proposal`    | `suite`, `signature_secret_key`, `identity` or `x509_chain`, `group_info`, `ratchet_tree?`, `proposal_type`, `data?`, `authenticated_data?`, `extension_types?`, `proposal_types?` | `proposal` |
//! | `join`                 | `client`, `welcome`, `ratchet_tree?`                   | `group` + state                          |
//! | `external_join`        | `client`, `group_info`, `ratchet_tree?`, `authenticated_data?`, `remove_leaf?` | `group`, `commit` + state |
//! | `encrypt`              | `group`, `plaintext`, `authenticated_data?`            | `message`, `generation`                  |
//! | `next_generation`      | `group`                                                | `generation`                             |
//! | `self_remove`          | `group`, `authenticated_data?`                         | `proposal`                               |
//! | `propose_custom`       | `group`, `proposal_type`, `data?`, `authenticated_data?` | `proposal`                             |
//! | `validate_custom_proposal` | `group`, `message`, `proposal_type?`               | `authenticated_data`, `sender`, `epoch`  |
//! | `group_context_extensions` | `group`                                            | `extensions`: [[type, hex]]              |
//! | `process`              | `group`, `message`                                     | `type` = `application` / `proposal` / `commit`, with details |
//! | `add`                  | `group`, `key_packages` (list), `apply?`               | `commit`, `welcome`, `has_path`, `epoch` |
//! | `remove`               | `group`, `leaves` (list), `apply?`                     | same as `add`                            |
//! | `update`               | `group`, `authenticated_data?`, `apply?`, `new_x509_chain?`, `new_signature_secret_key?` | same (always with an UpdatePath) |
//! | `commit_pending`       | `group`, `authenticated_data?`, `apply?`               | same (received proposals by reference)   |
//! | `apply_pending_commit` | `group`                                                | state                                    |
//! | `clear_pending_commit` | `group`                                                | state                                    |
//! | `clear_proposals`      | `group`                                                | state                                    |
//! | `propose_add`          | `group`, `key_package`, `authenticated_data?`          | `proposal`                               |
//! | `propose_remove`       | `group`, `leaf`, `authenticated_data?`                 | `proposal`                               |
//! | `propose_update`       | `group`, `authenticated_data?`, `new_x509_chain?`, `new_signature_secret_key?` | `proposal`       |
//! | `group_info`           | `group`, `with_ratchet_tree?` (default true)           | `group_info`                             |
//! | `ratchet_tree`         | `group`                                                | `ratchet_tree`                           |
//! | `epoch_authenticator`  | `group`                                                | `epoch_authenticator`, `epoch`           |
//! | `export_secret`        | `group`, `label` (string), `context?`, `length`        | `secret`                                 |
//! | `epoch` / `state`      | `group`                                                | state: `epoch`, `group_id`, `own_leaf_index`, `cipher_suite`, `has_pending_commit`, `commit_required` |
//! | `roster`               | `group`                                                | `members`: [{`leaf_index`, `identity`, `credential_type`, `certificates`, `signature_key`}] |
//! | `drop_group` / `drop_client` | `group` / `client`                               |                                          |
//! | `shutdown`             |                                                        | (then the peer exits)                    |
//!
//! `process` results: `application` {`plaintext`, `authenticated_data`, `sender`, `epoch`,
//! `generation`}; `proposal` {`proposal_type`, `sender`, `external_sender`, `proposal_ref`,
//! `authenticated_data`, `removed_leaf_index`?, `added_identity`?, `data`?}; `commit`
//! {`epoch`, `committer`, `is_external`, `removed_self`, `proposals`: [{`proposal_type`,
//! `sender`, `external_sender`, `source` (`value` / `reference` / `local`), ...}],
//! `authenticated_data`}. The Python driver is `rcs_mls.interop.mlsrs`.
//!
//! GSMA RCC.16: mls-rs is built with the features deployed RCS clients use
//! (`gsma_rcs_e2ee_feature`: 0xF002 and 0xF004 custom proposals encoded bare;
//! `self_remove_proposal`: SelfRemove 0xF003; `prior_epoch_membership_key`:
//! `validate_custom_proposal` of a past epoch; `last_resort_key_package_ext`; `x509`), plus
//! `export_key_generation` / `secret_tree_access` (the sender generation of sent and
//! received application messages, for RCC.16's SecretPayload check) and `external_client`
//! (an external sender's proposals, e.g. the server's ServerRemove). A client created with
//! `rcc16: true` applies the RCC.16 proposal rules of `RcsRules` (a ServerRemove committed
//! by reference removes its leaf; an `rcs_signature` is never committed).
//!
//! Forgeries (for the adversary tests; the peer is deliberately permissive):
//!
//! * `create_client` with `x509_chain` (hex DER certificates, leaf first) gives the client an
//!   X.509 credential (type 2) holding exactly these certificates, *whatever its signature
//!   key*: nothing is parsed, nothing checks that the leaf certificate certifies the key.
//!   `identity` is then optional and unused. `signature_secret_key` (hex) is the signature
//!   key in mls-rs-crypto-rustcrypto's encoding: for suite 2 (P-256) the 32-byte big-endian
//!   scalar (as `rcs_mls.rcs.credentials.generate_signature_key_pair()` makes it), for
//!   Ed25519 suites the 64 bytes seed || public key; without it the key is fresh (the
//!   forgery: the certificate names someone else's key). `create_client` answers the
//!   public key as `signature_key`.
//! * `extension_types` / `proposal_types` (u16 lists) are advertised in the client's leaf
//!   capabilities (and key packages), e.g. RCC.16's 0xF001-0xF007 and 0xF002-0xF004, so that
//!   the client can join groups that require them or carry them in the GroupContext.
//! * `permissive_identity` (default: true with `x509_chain`, else false) selects the
//!   identity provider: the permissive one accepts every credential of any type, any
//!   identity change and any external-commit successor (see `PeerIdentityProvider`); the
//!   other one is mls-rs's `BasicIdentityProvider`.
//! * `update` / `propose_update` with `new_x509_chain` and/or `new_signature_secret_key`:
//!   the committer's new leaf (in the UpdatePath, or the Update proposal) carries that X.509
//!   credential (else the current credential) and that key (else the current key).
//! * `external_join` with `remove_leaf`: the external commit also removes that leaf
//!   (a resync, RFC 9420 §12.4.3.2), whoever is in it.

use std::collections::HashMap;
use std::io::{BufRead, Write};
use std::panic::{catch_unwind, AssertUnwindSafe};

use mls_rs::client_builder::{
    BaseConfig, PaddingMode, WithCryptoProvider, WithIdentityProvider, WithMlsRules,
};
use mls_rs::crypto::{SignaturePublicKey, SignatureSecretKey};
use mls_rs::error::IntoAnyError;
use mls_rs::extension::built_in::{ExternalSendersExt, RequiredCapabilitiesExt};
use mls_rs::extension::recommended::LastResortKeyPackageExt;
use mls_rs::extension::ExtensionType;
use mls_rs::external_client::ExternalClient;
use mls_rs::group::proposal::{CustomProposal, RemoveProposal};
use mls_rs::group::proposal::{Proposal, ProposalType};
use mls_rs::group::{
    CommitEffect, CommitOutput, ExportedTree, ProposalSender, ReceivedMessage, Sender,
};
use mls_rs::group::{GroupContext, Roster};
use mls_rs::identity::basic::{BasicCredential, BasicIdentityProvider};
use mls_rs::identity::{Credential, CredentialType, SigningIdentity};
use mls_rs::mls_rules::{CommitDirection, CommitSource, ProposalBundle, ProposalSource};
use mls_rs::mls_rules::{CommitOptions, DefaultMlsRules, EncryptionOptions};
use mls_rs::time::MlsTime;
use mls_rs::{
    CipherSuite, CipherSuiteProvider, Client, CryptoProvider, ExtensionList, Group,
    IdentityProvider, MlsMessage,
};
use mls_rs::{Extension, MlsRules};
use mls_rs_core::identity::{CertificateChain, MemberValidationContext};
use mls_rs_crypto_rustcrypto::RustCryptoProvider;
use serde_json::{json, Map, Value};

type Config = WithMlsRules<
    RcsRules,
    WithIdentityProvider<PeerIdentityProvider, WithCryptoProvider<RustCryptoProvider, BaseConfig>>,
>;
type MlsClient = Client<Config>;
type MlsGroup = Group<Config>;

type Res<T> = Result<T, String>;

#[derive(Default)]
struct Peer {
    next_handle: u64,
    clients: HashMap<u64, MlsClient>,
    groups: HashMap<u64, MlsGroup>,
    /// Every signature secret key the peer generated or was given, by public key: an
    /// `update` that changes only the credential keeps signing with the current key.
    secrets: HashMap<Vec<u8>, SignatureSecretKey>,
}

// ---------------------------------------------------------------- identity provider

/// The identity provider of every client of the peer.
///
/// Not permissive (the default for a client with a basic credential): exactly mls-rs's
/// `BasicIdentityProvider` (basic credentials only, identity = the basic identifier, a
/// successor must keep the identifier).
///
/// Permissive (`permissive_identity`, the default for a client created with `x509_chain`):
/// a DELIBERATELY MALICIOUS, TEST-ONLY provider that lets the peer forge what an honest
/// client refuses to build. It parses nothing: every credential of any type is a valid
/// member and external sender whatever its certificates and whoever they certify, and
/// every successor is valid (an update or an external commit may change the credential to
/// any other). A member's identity is the leaf certificate's DER (the identifier of a basic
/// credential, the data of any other credential) followed by the leaf's signature key, so
/// that mls-rs's own duplicate-identity check never stops the peer from presenting the
/// certificate of another member of the same group. Never use it outside tests.
#[derive(Clone, Debug, Default)]
struct PeerIdentityProvider {
    permissive: bool,
}

#[derive(Debug)]
struct PeerIdentityError(String);

impl std::fmt::Display for PeerIdentityError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for PeerIdentityError {}

impl IntoAnyError for PeerIdentityError {
    fn into_dyn_error(self) -> Result<Box<dyn std::error::Error + Send + Sync>, Self> {
        Ok(self.into())
    }
}

fn basic_error<E: std::fmt::Display>(e: E) -> PeerIdentityError {
    PeerIdentityError(e.to_string())
}

/// What the permissive provider calls a credential's identity (before the signature key).
fn credential_bytes(credential: &Credential) -> Vec<u8> {
    match credential {
        Credential::Basic(basic) => basic.identifier().to_vec(),
        Credential::X509(chain) => chain.leaf().map(|c| c.to_vec()).unwrap_or_default(),
        Credential::Custom(custom) => custom.data.clone(),
        _ => Vec::new(),
    }
}

impl IdentityProvider for PeerIdentityProvider {
    type Error = PeerIdentityError;

    fn validate_member(
        &self,
        signing_identity: &SigningIdentity,
        timestamp: Option<MlsTime>,
        context: MemberValidationContext<'_>,
    ) -> Result<(), Self::Error> {
        if self.permissive {
            return Ok(());
        }
        BasicIdentityProvider::new()
            .validate_member(signing_identity, timestamp, context)
            .map_err(basic_error)
    }

    fn validate_external_sender(
        &self,
        signing_identity: &SigningIdentity,
        timestamp: Option<MlsTime>,
        extensions: Option<&ExtensionList>,
    ) -> Result<(), Self::Error> {
        if self.permissive {
            return Ok(());
        }
        BasicIdentityProvider::new()
            .validate_external_sender(signing_identity, timestamp, extensions)
            .map_err(basic_error)
    }

    fn identity(
        &self,
        signing_identity: &SigningIdentity,
        extensions: &ExtensionList,
    ) -> Result<Vec<u8>, Self::Error> {
        if self.permissive {
            let mut id = credential_bytes(&signing_identity.credential);
            id.extend_from_slice(signing_identity.signature_key.as_bytes());
            return Ok(id);
        }
        BasicIdentityProvider::new()
            .identity(signing_identity, extensions)
            .map_err(basic_error)
    }

    fn valid_successor(
        &self,
        predecessor: &SigningIdentity,
        successor: &SigningIdentity,
        extensions: &ExtensionList,
    ) -> Result<bool, Self::Error> {
        if self.permissive {
            return Ok(true);
        }
        BasicIdentityProvider::new()
            .valid_successor(predecessor, successor, extensions)
            .map_err(basic_error)
    }

    fn supported_types(&self) -> Vec<CredentialType> {
        if self.permissive {
            vec![CredentialType::BASIC, CredentialType::X509]
        } else {
            vec![CredentialType::BASIC]
        }
    }
}

// ---------------------------------------------------------------- RCC.16 rules

/// RCC.16's `rcs_signature` proposal (0xF002): signs a receipt, never committed.
const RCS_SIGNATURE: u16 = 0xF002;
/// RCC.16's `ServerRemove` proposal (0xF004): `uint32 to_remove`, from an external sender.
const RCS_SERVER_REMOVE: u16 = 0xF004;

/// The MLS rules of every client: mls-rs's `DefaultMlsRules` (commit and encryption
/// options), plus, for a client created with `rcc16: true`, what deployed RCC.16 clients on
/// mls-rs do with the GSMA proposals, on both sides of a commit (every member must apply
/// the same rules):
///
/// * a `ServerRemove` (0xF004) committed by reference removes its `to_remove` leaf: the
///   rules inject a local (never transmitted) Remove for it, unless the commit already
///   removes that leaf;
/// * an `rcs_signature` (0xF002) is never committed: dropped from the commits this client
///   makes (it stays in mls-rs's proposal cache once the client signed or received one).
#[derive(Clone, Debug, Default)]
struct RcsRules {
    inner: DefaultMlsRules,
    rcc16: bool,
}

impl MlsRules for RcsRules {
    type Error = PeerIdentityError;

    fn filter_proposals(
        &self,
        direction: CommitDirection,
        _source: CommitSource,
        _current_roster: &Roster,
        _current_context: &GroupContext,
        mut proposals: ProposalBundle,
    ) -> Result<ProposalBundle, Self::Error> {
        if !self.rcc16 {
            return Ok(proposals);
        }
        if direction == CommitDirection::Send {
            proposals.retain_custom(|p| {
                Ok::<_, PeerIdentityError>(p.proposal.proposal_type().raw_value() != RCS_SIGNATURE)
            })?;
        }
        let mut removals = Vec::new();
        for p in proposals.custom_proposals() {
            if p.proposal.proposal_type().raw_value() != RCS_SERVER_REMOVE {
                continue;
            }
            let data: [u8; 4] = p.proposal.data().try_into().map_err(|_| {
                PeerIdentityError("a ServerRemove is not a bare uint32".to_string())
            })?;
            removals.push((u32::from_be_bytes(data), p.sender));
        }
        for (leaf, sender) in removals {
            if proposals
                .remove_proposals()
                .iter()
                .any(|r| r.proposal.to_remove() == leaf)
            {
                continue;
            }
            let remove = RemoveProposal::removing(leaf).map_err(basic_error)?;
            proposals.add(Proposal::Remove(remove), sender, ProposalSource::Local);
        }
        Ok(proposals)
    }

    fn commit_options(
        &self,
        roster: &Roster,
        context: &GroupContext,
        proposals: &ProposalBundle,
    ) -> Result<CommitOptions, Self::Error> {
        match self.inner.commit_options(roster, context, proposals) {
            Ok(options) => Ok(options),
            Err(never) => match never {},
        }
    }

    fn encryption_options(
        &self,
        roster: &Roster,
        context: &GroupContext,
    ) -> Result<EncryptionOptions, Self::Error> {
        match self.inner.encryption_options(roster, context) {
            Ok(options) => Ok(options),
            Err(never) => match never {},
        }
    }
}

// ---------------------------------------------------------------- request helpers

struct Req<'a>(&'a Map<String, Value>);

impl Req<'_> {
    fn get(&self, key: &str) -> Option<&Value> {
        self.0.get(key).filter(|v| !v.is_null())
    }

    fn u64(&self, key: &str) -> Res<u64> {
        self.get(key)
            .and_then(Value::as_u64)
            .ok_or_else(|| format!("missing or non-integer field {key:?}"))
    }

    fn u32(&self, key: &str) -> Res<u32> {
        u32::try_from(self.u64(key)?).map_err(|_| format!("field {key:?} does not fit in u32"))
    }

    fn bool_or(&self, key: &str, default: bool) -> Res<bool> {
        match self.get(key) {
            None => Ok(default),
            Some(v) => v
                .as_bool()
                .ok_or_else(|| format!("field {key:?} must be a boolean")),
        }
    }

    fn str(&self, key: &str) -> Res<&str> {
        self.get(key)
            .and_then(Value::as_str)
            .ok_or_else(|| format!("missing or non-string field {key:?}"))
    }

    fn hex(&self, key: &str) -> Res<Vec<u8>> {
        decode_hex(key, self.str(key)?)
    }

    fn hex_opt(&self, key: &str) -> Res<Option<Vec<u8>>> {
        match self.get(key) {
            None => Ok(None),
            Some(_) => self.hex(key).map(Some),
        }
    }

    fn hex_or_empty(&self, key: &str) -> Res<Vec<u8>> {
        Ok(self.hex_opt(key)?.unwrap_or_default())
    }

    fn hex_list(&self, key: &str) -> Res<Vec<Vec<u8>>> {
        let items = self
            .get(key)
            .and_then(Value::as_array)
            .ok_or_else(|| format!("missing or non-array field {key:?}"))?;
        items
            .iter()
            .map(|v| {
                v.as_str()
                    .ok_or_else(|| format!("field {key:?} must hold hex strings"))
                    .and_then(|s| decode_hex(key, s))
            })
            .collect()
    }

    fn hex_list_opt(&self, key: &str) -> Res<Option<Vec<Vec<u8>>>> {
        match self.get(key) {
            None => Ok(None),
            Some(_) => self.hex_list(key).map(Some),
        }
    }

    fn u16_list_opt(&self, key: &str) -> Res<Option<Vec<u16>>> {
        let Some(value) = self.get(key) else {
            return Ok(None);
        };
        let items = value
            .as_array()
            .ok_or_else(|| format!("field {key:?} must be an array"))?;
        items
            .iter()
            .map(|v| {
                v.as_u64()
                    .and_then(|n| u16::try_from(n).ok())
                    .ok_or_else(|| format!("field {key:?} must hold u16 integers"))
            })
            .collect::<Res<Vec<u16>>>()
            .map(Some)
    }

    fn u32_list(&self, key: &str) -> Res<Vec<u32>> {
        let items = self
            .get(key)
            .and_then(Value::as_array)
            .ok_or_else(|| format!("missing or non-array field {key:?}"))?;
        items
            .iter()
            .map(|v| {
                v.as_u64()
                    .and_then(|n| u32::try_from(n).ok())
                    .ok_or_else(|| format!("field {key:?} must hold u32 integers"))
            })
            .collect()
    }
}

fn decode_hex(key: &str, s: &str) -> Res<Vec<u8>> {
    hex::decode(s).map_err(|e| format!("field {key:?} is not hex: {e}"))
}

/// An X.509 credential (MLS `CertificateChain`, leaf first) with exactly these DER
/// certificates: nothing is parsed or checked.
fn x509_credential(key: &str, chain: Vec<Vec<u8>>) -> Res<Credential> {
    if chain.is_empty() {
        return Err(format!(
            "field {key:?} must hold at least the leaf certificate"
        ));
    }
    Ok(CertificateChain::from(chain).into_credential())
}

fn mls_message(key: &str, bytes: &[u8]) -> Res<MlsMessage> {
    MlsMessage::from_bytes(bytes).map_err(|e| format!("field {key:?} is not an MLSMessage: {e}"))
}

fn encode(msg: &MlsMessage) -> Res<String> {
    msg.to_bytes()
        .map(hex::encode)
        .map_err(|e| format!("cannot encode MLSMessage: {e}"))
}

fn err<E: std::fmt::Display>(what: &str) -> impl FnOnce(E) -> String + '_ {
    move |e| format!("{what}: {e}")
}

/// What the peer reports as a member's identity: the basic identifier, or the leaf
/// certificate (DER) of an X.509 credential.
fn identity_of(signing_identity: &SigningIdentity) -> String {
    let credential = &signing_identity.credential;
    if let Some(basic) = credential.as_basic() {
        return hex::encode(basic.identifier());
    }
    credential
        .as_x509()
        .and_then(CertificateChain::leaf)
        .map(hex::encode)
        .unwrap_or_default()
}

fn proposal_json(proposal: &Proposal) -> Value {
    let mut out = json!({"proposal_type": proposal.proposal_type().raw_value()});
    match proposal {
        Proposal::Add(add) => {
            out["added_identity"] = json!(identity_of(add.signing_identity()));
        }
        Proposal::Remove(remove) => {
            out["removed_leaf_index"] = json!(remove.to_remove());
        }
        Proposal::Custom(custom) => {
            out["data"] = json!(hex::encode(custom.data()));
        }
        _ => {}
    }
    out
}

fn sender_index(sender: &Sender) -> Value {
    match sender {
        Sender::Member(i) => json!(i),
        _ => Value::Null,
    }
}

// ---------------------------------------------------------------- the peer

impl Peer {
    fn handle(&mut self) -> u64 {
        self.next_handle += 1;
        self.next_handle
    }

    fn client(&self, req: &Req<'_>) -> Res<&MlsClient> {
        let id = req.u64("client")?;
        self.clients
            .get(&id)
            .ok_or_else(|| format!("no client with handle {id}"))
    }

    fn group(&mut self, req: &Req<'_>) -> Res<&mut MlsGroup> {
        let id = req.u64("group")?;
        self.groups
            .get_mut(&id)
            .ok_or_else(|| format!("no group with handle {id}"))
    }

    fn add_group(&mut self, group: MlsGroup) -> u64 {
        let h = self.handle();
        self.groups.insert(h, group);
        h
    }

    fn dispatch(&mut self, op: &str, req: &Req<'_>) -> Res<Value> {
        match op {
            "ping" => Ok(json!({"pong": true})),
            "create_client" => self.create_client(req),
            "key_package" => {
                let mut kp_extensions = ExtensionList::new();
                if req.bool_or("last_resort", false)? {
                    kp_extensions
                        .set_from(LastResortKeyPackageExt)
                        .map_err(err("last-resort extension"))?;
                }
                let kp = self
                    .client(req)?
                    .generate_key_package_message(kp_extensions, ExtensionList::new(), None)
                    .map_err(err("generate key package"))?;
                Ok(json!({"key_package": encode(&kp)?}))
            }
            "create_group" => {
                let client = self.client(req)?;
                let mut builder = client.group_builder().map_err(err("group builder"))?;
                if let Some(gid) = req.hex_opt("group_id")? {
                    builder = builder.with_group_id(gid);
                }
                builder = builder.with_group_context_extensions(group_context_extensions(req)?);
                let group = builder.build().map_err(err("create group"))?;
                let gid = hex::encode(group.group_id());
                let h = self.add_group(group);
                Ok(json!({"group": h, "group_id": gid}))
            }
            "join" => {
                let client = self.client(req)?;
                let welcome = mls_message("welcome", &req.hex("welcome")?)?;
                let tree = match req.hex_opt("ratchet_tree")? {
                    None => None,
                    Some(b) => Some(
                        ExportedTree::from_bytes(&b)
                            .map_err(err("field \"ratchet_tree\" is not a ratchet tree"))?,
                    ),
                };
                let (group, _info) = client
                    .join_group(tree, &welcome, None)
                    .map_err(err("join from Welcome"))?;
                let state = group_state(&group);
                let h = self.add_group(group);
                Ok(with_handle(state, h))
            }
            "external_join" => {
                let client = self.client(req)?;
                let gi = mls_message("group_info", &req.hex("group_info")?)?;
                let mut builder = client
                    .external_commit_builder()
                    .map_err(err("external commit builder"))?;
                if let Some(b) = req.hex_opt("ratchet_tree")? {
                    let tree = ExportedTree::from_bytes(&b)
                        .map_err(err("field \"ratchet_tree\" is not a ratchet tree"))?;
                    builder = builder.with_tree_data(tree.into_owned());
                }
                let ad = req.hex_or_empty("authenticated_data")?;
                if !ad.is_empty() {
                    builder = builder.with_authenticated_data(ad);
                }
                if req.get("remove_leaf").is_some() {
                    builder = builder.with_removal(req.u32("remove_leaf")?);
                }
                let (group, commit) = builder.build(gi).map_err(err("external commit"))?;
                let commit = encode(&commit)?;
                let mut state = group_state(&group);
                state["commit"] = json!(commit);
                let h = self.add_group(group);
                Ok(with_handle(state, h))
            }
            "external_proposal" => self.external_proposal(req),
            "drop_group" => {
                let id = req.u64("group")?;
                self.groups
                    .remove(&id)
                    .map(|_| json!({}))
                    .ok_or_else(|| format!("no group with handle {id}"))
            }
            "drop_client" => {
                let id = req.u64("client")?;
                self.clients
                    .remove(&id)
                    .map(|_| json!({}))
                    .ok_or_else(|| format!("no client with handle {id}"))
            }
            _ => {
                let new_identity = match op {
                    "update" | "propose_update" => self.new_signing_identity(req)?,
                    _ => None,
                };
                self.group_op(op, req, new_identity)
            }
        }
    }

    /// A proposal by an external sender of the group (e.g. RCC.16's ServerRemove 0xF004 with
    /// `data` = the bare uint32 leaf), built by an mls-rs `ExternalClient` that observes the
    /// group from `group_info` (and `ratchet_tree` if the GroupInfo has none). The sender is
    /// `x509_chain` or `identity`, with `signature_secret_key` (suite `suite`); it must be
    /// listed in the group's external_senders extension.
    fn external_proposal(&mut self, req: &Req<'_>) -> Res<Value> {
        let suite_id = u16::try_from(req.u64("suite")?).map_err(|_| "suite out of range")?;
        let suite = CipherSuite::new(suite_id);
        let (secret, public) = self.signature_key(
            suite,
            Some(req.hex("signature_secret_key")?),
            "signature_secret_key",
        )?;
        let credential = match req.hex_list_opt("x509_chain")? {
            Some(chain) => x509_credential("x509_chain", chain)?,
            None => BasicCredential::new(req.hex("identity")?).into_credential(),
        };
        let proposal_type =
            u16::try_from(req.u64("proposal_type")?).map_err(|_| "proposal_type out of range")?;
        let extension_types = req.u16_list_opt("extension_types")?.unwrap_or_default();
        let proposal_types = req.u16_list_opt("proposal_types")?.unwrap_or_default();
        let external = ExternalClient::builder()
            .crypto_provider(RustCryptoProvider::default())
            .identity_provider(PeerIdentityProvider { permissive: true })
            .extension_types(extension_types.into_iter().map(ExtensionType::from))
            .custom_proposal_types(proposal_types.into_iter().map(ProposalType::from))
            .signer(secret, SigningIdentity::new(credential, public))
            .build();
        let gi = mls_message("group_info", &req.hex("group_info")?)?;
        let tree = match req.hex_opt("ratchet_tree")? {
            None => None,
            Some(b) => Some(
                ExportedTree::from_bytes(&b)
                    .map_err(err("field \"ratchet_tree\" is not a ratchet tree"))?,
            ),
        };
        let mut observed = external
            .observe_group(gi, tree, None)
            .map_err(err("observe the group"))?;
        let data = req.hex_or_empty("data")?;
        let ad = req.hex_or_empty("authenticated_data")?;
        let msg = observed
            .propose_custom(
                CustomProposal::new(ProposalType::from(proposal_type), data),
                ad,
            )
            .map_err(err("external proposal"))?;
        Ok(json!({"proposal": encode(&msg)?}))
    }

    fn create_client(&mut self, req: &Req<'_>) -> Res<Value> {
        let suite_id = u16::try_from(req.u64("suite")?).map_err(|_| "suite out of range")?;
        let suite = CipherSuite::new(suite_id);
        let encrypt_handshake = req.bool_or("encrypt_handshake", true)?;
        let ratchet_tree_extension = req.bool_or("ratchet_tree_extension", true)?;
        let padding = match req.get("padding").and_then(Value::as_str).unwrap_or("none") {
            "none" => PaddingMode::None,
            "padme" => PaddingMode::Padme,
            "step" => PaddingMode::StepFunction,
            other => return Err(format!("unknown padding mode {other:?}")),
        };
        let x509_chain = req.hex_list_opt("x509_chain")?;
        let permissive = req.bool_or("permissive_identity", x509_chain.is_some())?;
        let credential = match x509_chain {
            Some(chain) => x509_credential("x509_chain", chain)?,
            None => BasicCredential::new(req.hex("identity")?).into_credential(),
        };
        let extension_types = req.u16_list_opt("extension_types")?.unwrap_or_default();
        let proposal_types = req.u16_list_opt("proposal_types")?.unwrap_or_default();
        let crypto = RustCryptoProvider::default();
        let (secret, public) = self.signature_key(
            suite,
            req.hex_opt("signature_secret_key")?,
            "signature_secret_key",
        )?;
        let signing_identity = SigningIdentity::new(credential, public.clone());
        let rules = DefaultMlsRules::new()
            .with_commit_options(
                CommitOptions::new()
                    .with_ratchet_tree_extension(ratchet_tree_extension)
                    .with_single_welcome_message(true)
                    .with_path_required(false)
                    .with_allow_external_commit(false),
            )
            .with_encryption_options(EncryptionOptions::new(encrypt_handshake, padding));
        let rules = RcsRules {
            inner: rules,
            rcc16: req.bool_or("rcc16", false)?,
        };
        let client = Client::builder()
            .crypto_provider(crypto)
            .identity_provider(PeerIdentityProvider { permissive })
            .mls_rules(rules)
            .extension_types(extension_types.into_iter().map(ExtensionType::from))
            .custom_proposal_types(proposal_types.into_iter().map(ProposalType::from))
            .signing_identity(signing_identity, secret, suite)
            .build();
        let h = self.handle();
        self.clients.insert(h, client);
        Ok(json!({"client": h, "signature_key": hex::encode(public.as_bytes())}))
    }

    /// A signature key pair for `suite`: from `secret` (mls-rs-crypto-rustcrypto's encoding:
    /// for P-256 the 32-byte big-endian scalar, for Ed25519 the 64 bytes seed || public
    /// key) or freshly generated. The peer remembers the secret by its public key.
    fn signature_key(
        &mut self,
        suite: CipherSuite,
        secret: Option<Vec<u8>>,
        field: &str,
    ) -> Res<(SignatureSecretKey, SignaturePublicKey)> {
        let crypto = RustCryptoProvider::default();
        let cs = crypto.cipher_suite_provider(suite).ok_or_else(|| {
            format!(
                "mls-rs-crypto-rustcrypto does not support suite {}",
                suite.raw_value()
            )
        })?;
        let (secret, public) = match secret {
            None => cs
                .signature_key_generate()
                .map_err(err("signature key generation"))?,
            Some(bytes) => {
                let secret = SignatureSecretKey::new(bytes);
                let public = cs.signature_key_derive_public(&secret).map_err(|e| {
                    format!(
                        "field {field:?} is not a signature key of suite {}: {e}",
                        suite.raw_value()
                    )
                })?;
                (secret, public)
            }
        };
        self.secrets
            .insert(public.as_bytes().to_vec(), secret.clone());
        Ok((secret, public))
    }

    /// The signing identity (and its secret key) a member switches to in `update` /
    /// `propose_update`: `new_x509_chain` as credential (else the current one) and
    /// `new_signature_secret_key` as key (else the current key). None if neither is given.
    fn new_signing_identity(
        &mut self,
        req: &Req<'_>,
    ) -> Res<Option<(SignatureSecretKey, SigningIdentity)>> {
        let chain = req.hex_list_opt("new_x509_chain")?;
        let secret = req.hex_opt("new_signature_secret_key")?;
        if chain.is_none() && secret.is_none() {
            return Ok(None);
        }
        let group = self.group(req)?;
        let suite = group.cipher_suite();
        let current = group
            .current_member_signing_identity()
            .map_err(err("current signing identity"))?
            .clone();
        let (secret, public) = match secret {
            Some(bytes) => self.signature_key(suite, Some(bytes), "new_signature_secret_key")?,
            None => {
                let secret = self
                    .secrets
                    .get(current.signature_key.as_bytes())
                    .cloned()
                    .ok_or("the peer does not know the secret key of the current leaf")?;
                (secret, current.signature_key.clone())
            }
        };
        let credential = match chain {
            Some(chain) => x509_credential("new_x509_chain", chain)?,
            None => current.credential,
        };
        Ok(Some((secret, SigningIdentity::new(credential, public))))
    }

    fn group_op(
        &mut self,
        op: &str,
        req: &Req<'_>,
        new_identity: Option<(SignatureSecretKey, SigningIdentity)>,
    ) -> Res<Value> {
        let group = self.group(req)?;
        match op {
            "encrypt" => {
                let pt = req.hex("plaintext")?;
                let ad = req.hex_or_empty("authenticated_data")?;
                // The sender generation this message is encrypted with (mls-rs's own secret
                // tree, read just before encrypting).
                let generation = group
                    .peek_next_key_generation()
                    .map_err(err("peek next key generation"))?;
                let msg = group
                    .encrypt_application_message(&pt, ad)
                    .map_err(err("encrypt"))?;
                Ok(json!({"message": encode(&msg)?, "generation": generation}))
            }
            "next_generation" => {
                let generation = group
                    .peek_next_key_generation()
                    .map_err(err("peek next key generation"))?;
                Ok(json!({"generation": generation}))
            }
            "self_remove" => {
                let ad = req.hex_or_empty("authenticated_data")?;
                let msg = group
                    .propose_self_remove(ad)
                    .map_err(err("propose SelfRemove"))?;
                Ok(json!({"proposal": encode(&msg)?}))
            }
            "propose_custom" => {
                let proposal_type = u16::try_from(req.u64("proposal_type")?)
                    .map_err(|_| "proposal_type out of range")?;
                let data = req.hex_or_empty("data")?;
                let ad = req.hex_or_empty("authenticated_data")?;
                let msg = group
                    .propose_custom(
                        CustomProposal::new(ProposalType::from(proposal_type), data),
                        ad,
                    )
                    .map_err(err("propose custom"))?;
                Ok(json!({"proposal": encode(&msg)?}))
            }
            "validate_custom_proposal" => {
                let msg = mls_message("message", &req.hex("message")?)?;
                let epoch = msg.epoch();
                let expected = match req.get("proposal_type") {
                    None => None,
                    Some(_) => Some(ProposalType::from(
                        u16::try_from(req.u64("proposal_type")?)
                            .map_err(|_| "proposal_type out of range")?,
                    )),
                };
                let (ad, sender) = group
                    .validate_custom_proposal(&msg, expected)
                    .map_err(err("validate custom proposal"))?;
                Ok(json!({
                    "authenticated_data": hex::encode(ad),
                    "sender": sender_index(&sender),
                    "epoch": epoch,
                }))
            }
            "group_context_extensions" => {
                let extensions: Vec<Value> = group
                    .context()
                    .extensions
                    .iter()
                    .map(|e| {
                        json!([
                            e.extension_type().raw_value(),
                            hex::encode(e.extension_data())
                        ])
                    })
                    .collect();
                Ok(json!({"extensions": extensions}))
            }
            "process" => {
                let msg = mls_message("message", &req.hex("message")?)?;
                let received = group
                    .process_incoming_message(msg)
                    .map_err(err("process message"))?;
                received_json(group, received)
            }
            "add" => {
                let mut builder = group.commit_builder();
                for kp in req.hex_list("key_packages")? {
                    builder = builder
                        .add_member(mls_message("key_packages", &kp)?)
                        .map_err(err("add member"))?;
                }
                let out = builder.build().map_err(err("commit"))?;
                commit_json(group, req, &out)
            }
            "remove" => {
                let mut builder = group.commit_builder();
                for leaf in req.u32_list("leaves")? {
                    builder = builder.remove_member(leaf).map_err(err("remove member"))?;
                }
                let out = builder.build().map_err(err("commit"))?;
                commit_json(group, req, &out)
            }
            "update" => {
                // A commit without proposals always carries an UpdatePath (RFC 9420 §12.4).
                let ad = req.hex_or_empty("authenticated_data")?;
                let mut builder = group.commit_builder().authenticated_data(ad);
                if let Some((secret, identity)) = new_identity {
                    builder = builder.set_new_signing_identity(secret, identity);
                }
                let out = builder.build().map_err(err("commit"))?;
                if !out.contains_update_path {
                    return Err("mls-rs built an empty commit without an UpdatePath".into());
                }
                commit_json(group, req, &out)
            }
            "commit_pending" => {
                let ad = req.hex_or_empty("authenticated_data")?;
                let out = group.commit(ad).map_err(err("commit"))?;
                commit_json(group, req, &out)
            }
            "apply_pending_commit" => {
                group
                    .apply_pending_commit()
                    .map_err(err("apply pending commit"))?;
                Ok(group_state(group))
            }
            "clear_pending_commit" => {
                group.clear_pending_commit();
                Ok(group_state(group))
            }
            "clear_proposals" => {
                group.clear_proposal_cache();
                Ok(group_state(group))
            }
            "propose_add" => {
                let kp = mls_message("key_package", &req.hex("key_package")?)?;
                let ad = req.hex_or_empty("authenticated_data")?;
                let msg = group.propose_add(kp, ad).map_err(err("propose add"))?;
                Ok(json!({"proposal": encode(&msg)?}))
            }
            "propose_remove" => {
                let leaf = req.u32("leaf")?;
                let ad = req.hex_or_empty("authenticated_data")?;
                let msg = group
                    .propose_remove(leaf, ad)
                    .map_err(err("propose remove"))?;
                Ok(json!({"proposal": encode(&msg)?}))
            }
            "propose_update" => {
                let ad = req.hex_or_empty("authenticated_data")?;
                let msg = match new_identity {
                    None => group.propose_update(ad),
                    Some((secret, identity)) => {
                        group.propose_update_with_identity(secret, identity, ad)
                    }
                }
                .map_err(err("propose update"))?;
                Ok(json!({"proposal": encode(&msg)?}))
            }
            "group_info" => {
                let gi = group
                    .group_info_message_allowing_ext_commit(req.bool_or("with_ratchet_tree", true)?)
                    .map_err(err("group info"))?;
                Ok(json!({"group_info": encode(&gi)?}))
            }
            "ratchet_tree" => {
                let tree = group
                    .export_tree()
                    .to_bytes()
                    .map_err(err("export ratchet tree"))?;
                Ok(json!({"ratchet_tree": hex::encode(tree)}))
            }
            "epoch_authenticator" => {
                let a = group
                    .epoch_authenticator()
                    .map_err(err("epoch authenticator"))?;
                Ok(
                    json!({"epoch_authenticator": hex::encode(a.as_bytes()), "epoch": group.current_epoch()}),
                )
            }
            "export_secret" => {
                let label = req.str("label")?;
                let context = req.hex_or_empty("context")?;
                let len = usize::try_from(req.u64("length")?).map_err(|_| "length out of range")?;
                let s = group
                    .export_secret(label.as_bytes(), &context, len)
                    .map_err(err("export secret"))?;
                Ok(json!({"secret": hex::encode(s.as_bytes())}))
            }
            "epoch" | "state" => Ok(group_state(group)),
            "roster" => Ok(json!({"members": roster_json(group)})),
            _ => Err(format!("unknown op {op:?}")),
        }
    }
}

/// The GroupContext extensions of `create_group`: `extensions` (raw `[type, hex data]`
/// pairs, e.g. RCC.16's era 0xF001 as a bare uint32), `required_extensions` /
/// `required_proposals` (a RequiredCapabilities extension, if either is given) and
/// `external_senders` (an external_senders extension: `[{"x509_chain": [hex...]} or
/// {"identity": hex}, with "signature_key": hex]`).
fn group_context_extensions(req: &Req<'_>) -> Res<ExtensionList> {
    let mut list = ExtensionList::new();
    if let Some(items) = req.get("extensions") {
        let items = items
            .as_array()
            .ok_or("field \"extensions\" must be an array of [type, hex] pairs")?;
        for item in items {
            let pair = item
                .as_array()
                .filter(|a| a.len() == 2)
                .ok_or("field \"extensions\" must hold [type, hex] pairs")?;
            let ext_type = pair[0]
                .as_u64()
                .and_then(|n| u16::try_from(n).ok())
                .ok_or("an extension type must be a u16")?;
            let data = pair[1]
                .as_str()
                .ok_or("extension data must be hex")
                .and_then(|h| hex::decode(h).map_err(|_| "extension data must be hex"))?;
            list.set(Extension::new(ExtensionType::from(ext_type), data));
        }
    }
    let required_extensions = req.u16_list_opt("required_extensions")?;
    let required_proposals = req.u16_list_opt("required_proposals")?;
    if required_extensions.is_some() || required_proposals.is_some() {
        let ext = RequiredCapabilitiesExt::new(
            required_extensions
                .unwrap_or_default()
                .into_iter()
                .map(ExtensionType::from)
                .collect(),
            required_proposals
                .unwrap_or_default()
                .into_iter()
                .map(ProposalType::from)
                .collect(),
            Vec::new(),
        );
        list.set_from(ext).map_err(err("required capabilities"))?;
    }
    if let Some(senders) = req.get("external_senders") {
        let senders = senders
            .as_array()
            .ok_or("field \"external_senders\" must be an array")?;
        let mut identities = Vec::new();
        for sender in senders {
            let map = sender
                .as_object()
                .ok_or("an external sender must be an object")?;
            let sreq = Req(map);
            identities.push(signing_identity_of(&sreq)?);
        }
        list.set_from(ExternalSendersExt::new(identities))
            .map_err(err("external senders"))?;
    }
    Ok(list)
}

/// `{"x509_chain": [hex...]}` or `{"identity": hex}` (basic), with `"signature_key": hex`.
fn signing_identity_of(req: &Req<'_>) -> Res<SigningIdentity> {
    let credential = match req.hex_list_opt("x509_chain")? {
        Some(chain) => x509_credential("x509_chain", chain)?,
        None => BasicCredential::new(req.hex("identity")?).into_credential(),
    };
    Ok(SigningIdentity::new(
        credential,
        SignaturePublicKey::from(req.hex("signature_key")?),
    ))
}

fn with_handle(mut state: Value, h: u64) -> Value {
    state["group"] = json!(h);
    state
}

fn roster_json(group: &MlsGroup) -> Value {
    group
        .roster()
        .members_iter()
        .map(|m| {
            let si = &m.signing_identity;
            let certificates: Vec<String> = si
                .credential
                .as_x509()
                .map(|chain| chain.iter().map(hex::encode).collect())
                .unwrap_or_default();
            json!({
                "leaf_index": m.index,
                "identity": identity_of(si),
                "credential_type": si.credential.credential_type().raw_value(),
                "certificates": certificates,
                "signature_key": hex::encode(si.signature_key.as_bytes()),
            })
        })
        .collect()
}

fn group_state(group: &MlsGroup) -> Value {
    json!({
        "epoch": group.current_epoch(),
        "group_id": hex::encode(group.group_id()),
        "own_leaf_index": group.current_member_index(),
        "cipher_suite": group.cipher_suite().raw_value(),
        "has_pending_commit": group.has_pending_commit(),
        "commit_required": group.commit_required(),
    })
}

fn commit_json(group: &mut MlsGroup, req: &Req<'_>, out: &CommitOutput) -> Res<Value> {
    let welcome = match out.welcome_messages.as_slice() {
        [] => Value::Null,
        [w] => json!(encode(w)?),
        _ => return Err("mls-rs produced more than one Welcome".into()),
    };
    let mut result = json!({
        "commit": encode(&out.commit_message)?,
        "welcome": welcome,
        "has_path": out.contains_update_path,
    });
    if req.bool_or("apply", false)? {
        group
            .apply_pending_commit()
            .map_err(err("apply pending commit"))?;
    }
    result["epoch"] = json!(group.current_epoch());
    Ok(result)
}

fn received_json(group: &MlsGroup, received: ReceivedMessage) -> Res<Value> {
    match received {
        ReceivedMessage::ApplicationMessage(m) => Ok(json!({
            "type": "application",
            "plaintext": hex::encode(m.data()),
            "authenticated_data": hex::encode(&m.authenticated_data),
            "sender": m.sender_index,
            "epoch": group.current_epoch(),
            // The sender generation in the decrypted sender data (the key it was decrypted with).
            "generation": m.unauthenticated_key_generation,
        })),
        ReceivedMessage::Proposal(p) => {
            let mut out = proposal_json(&p.proposal);
            out["type"] = json!("proposal");
            out["sender"] = match p.sender {
                ProposalSender::Member(i) => json!(i),
                _ => Value::Null,
            };
            out["external_sender"] = match p.sender {
                ProposalSender::External(i) => json!(i),
                _ => Value::Null,
            };
            out["proposal_ref"] = json!(hex::encode(p.proposal_ref()));
            out["authenticated_data"] = json!(hex::encode(&p.authenticated_data));
            Ok(out)
        }
        ReceivedMessage::Commit(c) => {
            let (epoch, applied, removed_self) = match &c.effect {
                CommitEffect::NewEpoch(e) => (e.epoch, e.applied_proposals.as_slice(), false),
                CommitEffect::Removed { new_epoch, .. } => (
                    new_epoch.epoch,
                    new_epoch.applied_proposals.as_slice(),
                    true,
                ),
                CommitEffect::ReInit(_) => return Err("ReInit commits are not supported".into()),
            };
            let proposals: Vec<Value> = applied
                .iter()
                .map(|p| {
                    let mut v = proposal_json(&p.proposal);
                    v["sender"] = sender_index(&p.sender);
                    v["external_sender"] = match p.sender {
                        Sender::External(i) => json!(i),
                        _ => Value::Null,
                    };
                    v["source"] = json!(match p.source() {
                        ProposalSource::ByValue => "value",
                        ProposalSource::Local => "local",
                        _ => "reference",
                    });
                    v
                })
                .collect();
            Ok(json!({
                "type": "commit",
                "epoch": epoch,
                "committer": c.committer,
                "is_external": c.is_external,
                "removed_self": removed_self,
                "proposals": proposals,
                "authenticated_data": hex::encode(&c.authenticated_data),
            }))
        }
        ReceivedMessage::GroupInfo(_) => Ok(json!({"type": "group_info"})),
        ReceivedMessage::Welcome => Ok(json!({"type": "welcome"})),
        ReceivedMessage::KeyPackage(_) => Ok(json!({"type": "key_package"})),
    }
}

fn answer(peer: &mut Peer, line: &str) -> (Value, bool) {
    let request: Value = match serde_json::from_str(line) {
        Ok(v) => v,
        Err(e) => return (json!({"error": format!("request is not JSON: {e}")}), false),
    };
    let Some(map) = request.as_object() else {
        return (json!({"error": "request is not a JSON object"}), false);
    };
    let Some(op) = map.get("op").and_then(Value::as_str) else {
        return (json!({"error": "request has no \"op\" string"}), false);
    };
    if op == "shutdown" {
        return (json!({"result": {}}), true);
    }
    let req = Req(map);
    let outcome = catch_unwind(AssertUnwindSafe(|| peer.dispatch(op, &req)));
    let response = match outcome {
        Ok(Ok(result)) => json!({"result": result}),
        Ok(Err(message)) => json!({"error": format!("{op}: {message}")}),
        Err(payload) => {
            let what = payload
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            json!({"error": format!("{op}: mls-rs panicked: {what}")})
        }
    };
    (response, false)
}

fn main() {
    // Keep panics (caught and reported per request) from printing to stderr noisily.
    std::panic::set_hook(Box::new(|_| {}));
    let stdin = std::io::stdin();
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let mut peer = Peer::default();
    for line in stdin.lock().lines() {
        let Ok(line) = line else { break };
        if line.trim().is_empty() {
            continue;
        }
        let (response, stop) = answer(&mut peer, &line);
        if writeln!(out, "{response}")
            .and_then(|()| out.flush())
            .is_err()
        {
            break;
        }
        if stop {
            break;
        }
    }
}
