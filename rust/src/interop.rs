//! Testing helpers reached only by `rcs_mls.interop`: checking the RFC 9420 test
//! vectors (mlswg/mls-implementations `test-vectors/`) through OpenMLS.
//!
//! Nothing here is part of the public API: every export is prefixed `interop_` and
//! `rcs_mls/__init__.py` re-exports none of them. Two helpers reach past what an
//! application may do, because the vectors need it:
//!
//! * key packages whose lifetime has expired are accepted (the vectors were generated
//!   years ago); every other check of `KeyPackageIn::validate` still applies;
//! * private keys (init, leaf encryption) are imported into a client's store.
//!
//! Where OpenMLS exposes the RFC function (RefHash, SignWithLabel/VerifyWithLabel,
//! Welcome processing, ratchet-tree verification, codecs) it is OpenMLS's code that
//! runs. ExpandWithLabel, DeriveSecret, DeriveTreeSecret and EncryptWithLabel are
//! `pub(crate)` in OpenMLS 0.9.2; for them the RFC 9420 §5.1 constructions are built
//! here on the provider's primitives (`OpenMlsCrypto::hkdf_expand`, `hpke_seal`).

use openmls::ciphersuite::hash_ref::HashReference;
use openmls::ciphersuite::signable::{Signable, Verifiable, VerifiedStruct};
use openmls::ciphersuite::signature::{OpenMlsSignaturePublicKey, Signature};
use openmls::messages::group_info::{GroupInfo, VerifiableGroupInfo};
use openmls::prelude::*;
use openmls::schedule::PreSharedKeyId;
use openmls::treesync::RatchetTreeError;
use openmls_traits::storage::StorageProvider as _;
use openmls_traits::types::HpkeCiphertext;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict};
use tls_codec::{Deserialize as _, Serialize as _, TlsDeserialize, TlsSerialize, TlsSize, VLBytes};

use crate::client::Client;
use crate::error::{classify, detach, map_kp_verify, Error, Result};
use crate::group::{Group, GroupConfig};
use crate::key_packages::KeyPackage;
use crate::provider::Provider;
use crate::types::{suite_from_u16, BytesIn};

/// RFC 9420 §5.1.2: the prefix of every label.
const LABEL_PREFIX: &str = "MLS 1.0 ";

fn tls<T: tls_codec::Serialize>(v: &T) -> Result<Vec<u8>> {
    v.tls_serialize_detached()
        .map_err(|e| Error::Library(format!("encoding: {e}")))
}

fn parse<T: tls_codec::Deserialize>(what: &str, data: &[u8]) -> Result<T> {
    T::tls_deserialize_exact(data).map_err(|e| Error::Parse(format!("{what}: {e}")))
}

// ---------------------------------------------------------------------------------------
// Key packages with imported private keys
// ---------------------------------------------------------------------------------------

/// Parse and validate a key package (MLSMessage or bare), accepting an expired lifetime.
///
/// `KeyPackageIn::validate` checks the lifetime last, so when that is its only
/// complaint every other check (leaf and key package signatures, version, distinct
/// keys, extensions) has passed; the key package is then taken over through its serde
/// form, the one way OpenMLS offers outside its `test-utils` feature.
fn key_package_ignoring_lifetime(data: &[u8]) -> Result<openmls::prelude::KeyPackage> {
    let kp_in = crate::key_packages::decode_key_package(data)?;
    let crypto = crate::provider::Crypto;
    match kp_in.clone().validate(&crypto, ProtocolVersion::Mls10) {
        Ok(kp) => Ok(kp),
        Err(KeyPackageVerifyError::LifetimeError(_)) => {
            let value = serde_json::to_value(&kp_in)
                .map_err(|e| Error::Library(format!("key package to serde: {e}")))?;
            serde_json::from_value(value)
                .map_err(|e| Error::Library(format!("key package from serde: {e}")))
        }
        Err(e) => Err(map_kp_verify(e)),
    }
}

/// Check that `private` is the HPKE private key of `public` by sealing to one and
/// opening with the other.
fn check_hpke_pair(suite: Ciphersuite, public: &[u8], private: &[u8], what: &str) -> Result<()> {
    let crypto = crate::provider::Crypto;
    let probe = b"rcs-mls interop key check";
    let ct = crypto
        .hpke_seal(suite.hpke_config(), public, b"", b"", probe)
        .map_err(|e| Error::Library(format!("hpke_seal: {e:?}")))?;
    match crypto.hpke_open(suite.hpke_config(), &ct, private, b"", b"") {
        Ok(pt) if pt == probe => Ok(()),
        _ => Err(Error::InvalidArgument(format!(
            "{what} does not match the key package's public key"
        ))),
    }
}

/// Build the bundle OpenMLS stores for a key package: the key package and its init and
/// leaf-encryption private keys. `KeyPackageBundle`'s fields are crate-private; its
/// serde form is `{key_package, private_init_key, private_encryption_key: {key}}`.
fn make_bundle(
    kp: &openmls::prelude::KeyPackage,
    init_priv: &[u8],
    encryption_priv: &[u8],
) -> Result<KeyPackageBundle> {
    let ser = |e: serde_json::Error| Error::Library(format!("key package bundle: {e}"));
    let value = serde_json::json!({
        "key_package": serde_json::to_value(kp).map_err(ser)?,
        "private_init_key": serde_json::to_value(HpkePrivateKey::from(init_priv.to_vec())).map_err(ser)?,
        "private_encryption_key": {
            "key": serde_json::to_value(HpkePrivateKey::from(encryption_priv.to_vec())).map_err(ser)?,
        },
    });
    serde_json::from_value(value).map_err(ser)
}

fn store_bundle(
    provider: &Provider,
    kp: &openmls::prelude::KeyPackage,
    init_priv: &[u8],
    encryption_priv: &[u8],
) -> Result<Vec<u8>> {
    let bundle = make_bundle(kp, init_priv, encryption_priv)?;
    let hash_ref = kp
        .hash_ref(provider.crypto())
        .map_err(|e| Error::Library(e.to_string()))?;
    provider
        .storage()
        .write_key_package(&hash_ref, &bundle)
        .map_err(|e| Error::Storage(format!("{e:?}")))?;
    Ok(hash_ref.as_slice().to_vec())
}

/// Parse and validate a key package like `KeyPackage.from_bytes`, except that an
/// expired lifetime is accepted.
#[pyfunction]
fn interop_load_key_package(py: Python<'_>, data: BytesIn) -> PyResult<KeyPackage> {
    let inner = detach(py, || key_package_ignoring_lifetime(&data))?;
    Ok(KeyPackage { inner })
}

/// Import a key package generated elsewhere, with its private keys, into `client`'s
/// store, so that the client can join from a Welcome for it. Returns its
/// KeyPackageRef.
///
/// Checks first that the three private keys belong to the key package: `init_priv`
/// to its init key, `encryption_priv` to its leaf's encryption key, and the client's
/// signature key to the leaf's signature key (test-vectors.md, passive client).
#[pyfunction]
fn interop_import_key_package<'py>(
    py: Python<'py>,
    client: PyRef<'py, Client>,
    key_package: BytesIn,
    init_priv: BytesIn,
    encryption_priv: BytesIn,
) -> PyResult<Bound<'py, PyBytes>> {
    let core = client.core.clone();
    let hash_ref = detach(py, move || -> Result<Vec<u8>> {
        let kp = key_package_ignoring_lifetime(&key_package)?;
        if kp.ciphersuite() != core.suite {
            return Err(Error::InvalidArgument(
                "the key package is for another ciphersuite than the client".into(),
            ));
        }
        if kp.leaf_node().signature_key().as_slice() != core.signer.public() {
            return Err(Error::InvalidArgument(
                "the client's signature key is not the key package's".into(),
            ));
        }
        let suite = kp.ciphersuite();
        check_hpke_pair(
            suite,
            kp.hpke_init_key().as_slice(),
            &init_priv,
            "init_priv",
        )?;
        // `EncryptionKey` only exposes its bytes through its encoding, `opaque<V>`.
        let encryption_key: VLBytes =
            parse("encryption key", &tls(kp.leaf_node().encryption_key())?)?;
        check_hpke_pair(
            suite,
            encryption_key.as_slice(),
            &encryption_priv,
            "encryption_priv",
        )?;
        store_bundle(&core.provider, &kp, &init_priv, &encryption_priv)
    })?;
    Ok(PyBytes::new(py, &hash_ref))
}

/// Join from a Welcome like `Client.join_group`, with two differences the vectors
/// need (OpenMLS's own passive-client runner does the same):
///
/// * the lifetimes of the leaf nodes in the ratchet tree are not checked (OpenMLS
///   `JoinBuilder::skip_lifetime_validation`): the vectors' key packages expired long ago;
/// * the group keeps the resumption PSKs of its last `resumption_psks` epochs (OpenMLS
///   `number_of_resumption_psks`, 0 in `GroupConfig`), so that commits with a
///   resumption PSK proposal can be processed.
#[pyfunction]
#[pyo3(signature = (client, welcome, *, ratchet_tree=None, config=None, resumption_psks=16))]
fn interop_join_group(
    py: Python<'_>,
    client: PyRef<'_, Client>,
    welcome: BytesIn,
    ratchet_tree: Option<BytesIn>,
    config: Option<PyRef<'_, GroupConfig>>,
    resumption_psks: usize,
) -> PyResult<Group> {
    let join_config = with_resumption_psks(
        config.map(|c| c.clone()).unwrap_or_default().join_config(),
        resumption_psks,
    )?;
    let core = client.core.clone();
    let group = detach(py, || -> Result<MlsGroup> {
        let msg: MlsMessageIn = parse("not an MLSMessage", &welcome)?;
        let welcome = match msg.extract() {
            MlsMessageBodyIn::Welcome(w) => w,
            _ => {
                return Err(Error::InvalidArgument(
                    "the MLSMessage is not a Welcome".into(),
                ))
            }
        };
        let tree = ratchet_tree
            .as_deref()
            .map(|t| parse::<RatchetTreeIn>("not a ratchet tree", t))
            .transpose()?;
        core.run(|_| {
            let processed =
                ProcessedWelcome::new_from_welcome(&core.provider, &join_config, welcome)
                    .map_err(classify)?;
            let mut builder =
                JoinBuilder::new(&core.provider, processed).skip_lifetime_validation();
            if let Some(t) = tree {
                builder = builder.with_ratchet_tree(t);
            }
            let g = builder
                .build()
                .map_err(classify)?
                .into_group(&core.provider)
                .map_err(classify)?;
            core.record_group(&g)?;
            Ok(g)
        })
    })?;
    Ok(Group::new(client.core.clone(), group))
}

/// `config` with `number_of_resumption_psks` raised to `n`. The builder is the only
/// public setter, so the other settings are carried over through the serde form.
fn with_resumption_psks(config: MlsGroupJoinConfig, n: usize) -> Result<MlsGroupJoinConfig> {
    let ser = |e: serde_json::Error| Error::Library(format!("join config: {e}"));
    let mut value = serde_json::to_value(&config).map_err(ser)?;
    let field = value
        .get_mut("number_of_resumption_psks")
        .ok_or_else(|| Error::Library("join config: no number_of_resumption_psks".into()))?;
    if field.as_u64().is_some_and(|current| current >= n as u64) {
        return Ok(config);
    }
    *field = serde_json::Value::from(n);
    serde_json::from_value(value).map_err(ser)
}

// ---------------------------------------------------------------------------------------
// welcome.json
// ---------------------------------------------------------------------------------------

/// Process a Welcome (welcome.json): find the EncryptedGroupSecrets for `key_package`,
/// decrypt them with `init_priv`, decrypt the GroupInfo (OpenMLS
/// `ProcessedWelcome::new_from_welcome`), then verify the GroupInfo signature with
/// `signer_pub` (OpenMLS `Verifiable::verify`).
///
/// Returns a dict: ``group_id``, ``epoch``, ``key_package_ref`` (the entry found) and
/// ``has_ratchet_tree`` (whether the GroupInfo carries a ratchet tree: without one
/// OpenMLS cannot go on to the confirmation tag, which it checks only when it builds
/// the group).
#[pyfunction]
fn interop_process_welcome<'py>(
    py: Python<'py>,
    key_package: BytesIn,
    init_priv: BytesIn,
    welcome: BytesIn,
    signer_pub: BytesIn,
) -> PyResult<Bound<'py, PyDict>> {
    struct Out {
        group_id: Vec<u8>,
        epoch: u64,
        kp_ref: Vec<u8>,
        has_tree: bool,
    }
    let out = detach(py, || -> Result<Out> {
        let provider = Provider::in_memory();
        let kp = key_package_ignoring_lifetime(&key_package)?;
        let suite = kp.ciphersuite();
        // The leaf's private key is not part of welcome.json and is not needed to
        // process the Welcome; the init key is what decrypts the group secrets.
        let kp_ref = store_bundle(&provider, &kp, &init_priv, &[])?;
        let msg: MlsMessageIn = parse("not an MLSMessage", &welcome)?;
        let welcome = match msg.extract() {
            MlsMessageBodyIn::Welcome(w) => w,
            _ => {
                return Err(Error::InvalidArgument(
                    "the MLSMessage is not a Welcome".into(),
                ))
            }
        };
        if !welcome
            .secrets()
            .iter()
            .any(|s| s.new_member().as_slice() == kp_ref.as_slice())
        {
            return Err(Error::Validation(
                "no EncryptedGroupSecrets for the key package".into(),
            ));
        }
        let config = MlsGroupJoinConfig::default();
        let processed =
            ProcessedWelcome::new_from_welcome(&provider, &config, welcome).map_err(classify)?;
        let vgi = processed.unverified_group_info().clone();
        let has_tree = vgi.extensions().ratchet_tree().is_some();
        let pk = OpenMlsSignaturePublicKey::new(
            VLBytes::from(signer_pub.to_vec()),
            suite.signature_algorithm(),
        )
        .map_err(|e| Error::InvalidArgument(format!("signer_pub: {e:?}")))?;
        let gi: GroupInfo = vgi.verify(provider.crypto(), &pk).map_err(|_| {
            Error::InvalidSignature("the GroupInfo signature does not verify".into())
        })?;
        Ok(Out {
            group_id: gi.group_context().group_id().as_slice().to_vec(),
            epoch: gi.group_context().epoch().as_u64(),
            kp_ref,
            has_tree,
        })
    })?;
    let d = PyDict::new(py);
    d.set_item("group_id", PyBytes::new(py, &out.group_id))?;
    d.set_item("epoch", out.epoch)?;
    d.set_item("key_package_ref", PyBytes::new(py, &out.kp_ref))?;
    d.set_item("has_ratchet_tree", out.has_tree)?;
    Ok(d)
}

// ---------------------------------------------------------------------------------------
// tree-validation.json
// ---------------------------------------------------------------------------------------

/// Verify a ratchet tree as a joiner does, as far as OpenMLS's public API reaches:
///
/// 1. `RatchetTreeIn::into_verified`: node types, no trailing blank, and every leaf's
///    signature (with `group_id` and the leaf index as context for update/commit leaves).
/// 2. `PublicGroup::from_external` with a GroupInfo whose signature cannot verify: in
///    OpenMLS 0.9.2 that function builds the tree (checking every parent hash, RFC 9420
///    §7.9.2), checks unmerged leaves and key uniqueness, and only then checks the
///    GroupInfo's signer (`UnknownSender` if leaf 0 is blank) and signature
///    (`InvalidGroupInfoSignature`). Reaching either of those two errors therefore means
///    all the tree checks passed; any earlier error is reported.
///
/// Raises ValidationError (or InvalidSignatureError for a leaf signature) on failure.
#[pyfunction]
fn interop_verify_ratchet_tree(
    py: Python<'_>,
    ciphersuite: u16,
    ratchet_tree: BytesIn,
    group_id: BytesIn,
) -> PyResult<()> {
    let suite = suite_from_u16(ciphersuite)?;
    detach(py, || -> Result<()> {
        let provider = Provider::in_memory();
        let tree: RatchetTreeIn = parse("not a ratchet tree", &ratchet_tree)?;
        let gid = GroupId::from_slice(&group_id);
        tree.clone()
            .into_verified(suite, provider.crypto(), &gid)
            .map_err(|e| match e {
                RatchetTreeError::InvalidNodeSignature => {
                    Error::InvalidSignature(format!("ratchet tree: {e}"))
                }
                other => Error::Validation(format!("ratchet tree: {other}")),
            })?;
        let gi = fake_group_info(suite, &group_id, 0)?;
        match PublicGroup::from_external(
            provider.crypto(),
            provider.storage(),
            tree,
            gi,
            ProposalStore::new(),
        ) {
            Err(
                CreationFromExternalError::InvalidGroupInfoSignature
                | CreationFromExternalError::UnknownSender,
            ) => Ok(()),
            Err(e) => Err(Error::Validation(format!("ratchet tree: {e}"))),
            Ok(_) => Err(Error::Library(
                "a GroupInfo with an empty signature was accepted".into(),
            )),
        }
    })?;
    Ok(())
}

/// A GroupInfo (RFC 9420 §12.4.3) for `group_id` at epoch 0 with an empty tree hash,
/// empty confirmation tag and empty signature, "signed" by `signer`.
fn fake_group_info(
    suite: Ciphersuite,
    group_id: &[u8],
    signer: u32,
) -> Result<VerifiableGroupInfo> {
    let mut b = Vec::new();
    let enc = |r: std::result::Result<usize, tls_codec::Error>| {
        r.map(|_| ()).map_err(|e| Error::Library(e.to_string()))
    };
    // GroupContext
    enc(1u16.tls_serialize(&mut b))?;
    enc(u16::from(suite).tls_serialize(&mut b))?;
    enc(VLBytes::from(group_id.to_vec()).tls_serialize(&mut b))?;
    enc(0u64.tls_serialize(&mut b))?;
    enc(VLBytes::from(Vec::new()).tls_serialize(&mut b))?; // tree_hash
    enc(VLBytes::from(Vec::new()).tls_serialize(&mut b))?; // confirmed_transcript_hash
    enc(VLBytes::from(Vec::new()).tls_serialize(&mut b))?; // extensions
                                                           // GroupInfo
    enc(VLBytes::from(Vec::new()).tls_serialize(&mut b))?; // extensions
    enc(VLBytes::from(Vec::new()).tls_serialize(&mut b))?; // confirmation_tag
    enc(signer.tls_serialize(&mut b))?;
    enc(VLBytes::from(Vec::new()).tls_serialize(&mut b))?; // signature
    parse("fake GroupInfo", &b)
}

// ---------------------------------------------------------------------------------------
// messages.json: decode and re-encode
// ---------------------------------------------------------------------------------------

/// `GroupSecrets` (RFC 9420 §12.4.3.1) is crate-private in OpenMLS; this mirrors it
/// with the same field codecs: `opaque joiner_secret<V>`, `optional<PathSecret>` (a
/// PathSecret is one `opaque<V>`) and OpenMLS's own `PreSharedKeyID psks<V>`.
#[derive(TlsSerialize, TlsDeserialize, TlsSize)]
struct GroupSecretsCodec {
    joiner_secret: VLBytes,
    path_secret: Option<VLBytes>,
    psks: Vec<PreSharedKeyId>,
}

fn roundtrip_as<T: tls_codec::Deserialize + tls_codec::Serialize>(
    what: &str,
    data: &[u8],
) -> Result<(T, Vec<u8>)> {
    let v: T = parse(&format!("decoding {what}"), data)?;
    let out = tls(&v)?;
    Ok((v, out))
}

/// The bytes of an MLSMessage carrying a PublicMessage whose content is `commit`, with
/// empty group id, epoch 0, sender member 0 and empty signature and tags.
fn public_message_around(content_type: u8, body: &[u8]) -> Result<(Vec<u8>, usize, usize)> {
    let mut pre = Vec::new();
    let enc = |r: std::result::Result<usize, tls_codec::Error>| {
        r.map(|_| ()).map_err(|e| Error::Library(e.to_string()))
    };
    enc(1u16.tls_serialize(&mut pre))?; // mls10
    enc(1u16.tls_serialize(&mut pre))?; // mls_public_message
    enc(VLBytes::from(b"g".to_vec()).tls_serialize(&mut pre))?; // group_id
    enc(0u64.tls_serialize(&mut pre))?; // epoch
    enc(1u8.tls_serialize(&mut pre))?; // sender_type = member
    enc(0u32.tls_serialize(&mut pre))?; // leaf_index
    enc(VLBytes::from(Vec::new()).tls_serialize(&mut pre))?; // authenticated_data
    enc(content_type.tls_serialize(&mut pre))?;
    let mut post = Vec::new();
    enc(VLBytes::from(vec![0u8; 64]).tls_serialize(&mut post))?; // signature
    if content_type == 3 {
        enc(VLBytes::from(vec![0u8; 32]).tls_serialize(&mut post))?; // confirmation_tag
    }
    enc(VLBytes::from(vec![0u8; 32]).tls_serialize(&mut post))?; // membership_tag
    let (a, b) = (pre.len(), post.len());
    let mut all = pre;
    all.extend_from_slice(body);
    all.extend_from_slice(&post);
    Ok((all, a, b))
}

/// Decode `data` as the structure `kind` names (a field name of messages.json) with
/// OpenMLS's decoder, and return its re-encoding; the vector's check is that the two
/// are equal. MLSMessage kinds also check the wire format and content type.
///
/// `commit` has no public OpenMLS type of its own: it is decoded and re-encoded as the
/// content of a PublicMessage (OpenMLS's `CommitIn` codec) and cut out again.
/// `group_secrets` goes through [`GroupSecretsCodec`].
#[pyfunction]
fn interop_roundtrip<'py>(
    py: Python<'py>,
    kind: &str,
    data: BytesIn,
) -> PyResult<Bound<'py, PyBytes>> {
    let out = roundtrip(kind, &data)?;
    Ok(PyBytes::new(py, &out))
}

fn roundtrip(kind: &str, data: &[u8]) -> Result<Vec<u8>> {
    let wrong = |what: &str| Err(Error::Validation(format!("{kind}: the message is {what}")));
    match kind {
        "mls_welcome"
        | "mls_group_info"
        | "mls_key_package"
        | "public_message_application"
        | "public_message_proposal"
        | "public_message_commit"
        | "private_message" => {
            let (msg, out) = roundtrip_as::<MlsMessageIn>(kind, data)?;
            let ok = match (kind, msg.extract()) {
                ("mls_welcome", MlsMessageBodyIn::Welcome(_)) => true,
                ("mls_group_info", MlsMessageBodyIn::GroupInfo(_)) => true,
                ("mls_key_package", MlsMessageBodyIn::KeyPackage(_)) => true,
                ("private_message", MlsMessageBodyIn::PrivateMessage(_)) => true,
                (k, MlsMessageBodyIn::PublicMessage(p)) => matches!(
                    (k, p.content_type()),
                    ("public_message_application", ContentType::Application)
                        | ("public_message_proposal", ContentType::Proposal)
                        | ("public_message_commit", ContentType::Commit)
                ),
                _ => false,
            };
            if !ok {
                return wrong("of another wire format or content type");
            }
            Ok(out)
        }
        "ratchet_tree" => Ok(roundtrip_as::<RatchetTreeIn>(kind, data)?.1),
        "group_secrets" => Ok(roundtrip_as::<GroupSecretsCodec>(kind, data)?.1),
        "add_proposal" => Ok(roundtrip_as::<AddProposalIn>(kind, data)?.1),
        "update_proposal" => Ok(roundtrip_as::<UpdateProposalIn>(kind, data)?.1),
        "remove_proposal" => Ok(roundtrip_as::<RemoveProposal>(kind, data)?.1),
        "pre_shared_key_proposal" => Ok(roundtrip_as::<PreSharedKeyProposal>(kind, data)?.1),
        "re_init_proposal" => Ok(roundtrip_as::<ReInitProposal>(kind, data)?.1),
        "external_init_proposal" => Ok(roundtrip_as::<ExternalInitProposal>(kind, data)?.1),
        "group_context_extensions_proposal" => {
            Ok(roundtrip_as::<GroupContextExtensionProposalIn>(kind, data)?.1)
        }
        "commit" => {
            let (wrapped, pre, post) = public_message_around(3, data)?;
            let (msg, out) = roundtrip_as::<MlsMessageIn>(kind, &wrapped)?;
            match msg.extract() {
                MlsMessageBodyIn::PublicMessage(p) if p.content_type() == ContentType::Commit => {}
                _ => return wrong("not a commit"),
            }
            if out.len() < pre + post
                || out[..pre] != wrapped[..pre]
                || out[out.len() - post..] != wrapped[wrapped.len() - post..]
            {
                return Err(Error::Validation(
                    "commit: the framing did not survive".into(),
                ));
            }
            Ok(out[pre..out.len() - post].to_vec())
        }
        other => Err(Error::InvalidArgument(format!("unknown kind {other:?}"))),
    }
}

// ---------------------------------------------------------------------------------------
// deserialization.json: the variable-length integer (RFC 9420 §2.1.2)
// ---------------------------------------------------------------------------------------

/// Decode a vector length header with tls_codec (the codec OpenMLS uses, "mls" feature).
/// Returns ``(length, header_length, reencoded_header)``; for lengths up to 1 MiB it
/// also decodes a whole `VLBytes` of that length and checks its size.
#[pyfunction]
fn interop_decode_vl_header<'py>(
    py: Python<'py>,
    header: BytesIn,
) -> PyResult<(usize, usize, Bound<'py, PyBytes>)> {
    let mut rest: &[u8] = &header;
    let (length, header_len) = tls_codec::vlen::read_length(&mut rest)
        .map_err(|e| Error::Parse(format!("vector length: {e}")))?;
    if !rest.is_empty() {
        return Err(Error::Parse("vector length: trailing bytes".into()).into());
    }
    let mut re = Vec::new();
    tls_codec::vlen::write_length(&mut re, length)
        .map_err(|e| Error::Parse(format!("vector length: {e}")))?;
    if length <= 1 << 20 {
        let mut full = header.to_vec();
        full.resize(header.len() + length, 0);
        let v = VLBytes::tls_deserialize_exact(&full)
            .map_err(|e| Error::Parse(format!("vector: {e}")))?;
        if v.as_slice().len() != length {
            return Err(
                Error::Validation("vector: decoded size differs from its length".into()).into(),
            );
        }
    }
    Ok((length, header_len, PyBytes::new(py, &re)))
}

// ---------------------------------------------------------------------------------------
// crypto-basics.json: the labelled functions of RFC 9420 §5.1
// ---------------------------------------------------------------------------------------

fn crypto() -> crate::provider::Crypto {
    crate::provider::Crypto
}

/// RefHash(label, value) (§5.2), by OpenMLS's `HashReference::new`.
#[pyfunction]
fn interop_ref_hash<'py>(
    py: Python<'py>,
    ciphersuite: u16,
    label: &str,
    value: BytesIn,
) -> PyResult<Bound<'py, PyBytes>> {
    let suite = suite_from_u16(ciphersuite)?;
    let r = HashReference::new(&value, suite, &crypto(), label.as_bytes())
        .map_err(|e| Error::Library(format!("{e:?}")))?;
    Ok(PyBytes::new(py, r.as_slice()))
}

/// ExpandWithLabel(secret, label, context, length) (§5.1.3), built here on the
/// provider's HKDF-Expand: `KDFLabel { uint16 length; opaque label<V>; opaque context<V> }`.
fn expand_with_label(
    suite: Ciphersuite,
    secret: &[u8],
    label: &str,
    context: &[u8],
    length: u16,
) -> Result<Vec<u8>> {
    let mut info = Vec::new();
    let full_label = format!("{LABEL_PREFIX}{label}");
    length
        .tls_serialize(&mut info)
        .and_then(|_| VLBytes::from(full_label.into_bytes()).tls_serialize(&mut info))
        .and_then(|_| VLBytes::from(context.to_vec()).tls_serialize(&mut info))
        .map_err(|e| Error::Library(e.to_string()))?;
    let okm = crypto()
        .hkdf_expand(suite.hash_algorithm(), secret, &info, length.into())
        .map_err(|e| Error::Library(format!("hkdf_expand: {e:?}")))?;
    Ok(okm.as_slice().to_vec())
}

#[pyfunction]
fn interop_expand_with_label<'py>(
    py: Python<'py>,
    ciphersuite: u16,
    secret: BytesIn,
    label: &str,
    context: BytesIn,
    length: u16,
) -> PyResult<Bound<'py, PyBytes>> {
    let suite = suite_from_u16(ciphersuite)?;
    Ok(PyBytes::new(
        py,
        &expand_with_label(suite, &secret, label, &context, length)?,
    ))
}

/// DeriveSecret(secret, label) = ExpandWithLabel(secret, label, "", Nh) (§5.1.3).
#[pyfunction]
fn interop_derive_secret<'py>(
    py: Python<'py>,
    ciphersuite: u16,
    secret: BytesIn,
    label: &str,
) -> PyResult<Bound<'py, PyBytes>> {
    let suite = suite_from_u16(ciphersuite)?;
    let nh = u16::try_from(suite.hash_length()).map_err(|e| Error::Library(e.to_string()))?;
    Ok(PyBytes::new(
        py,
        &expand_with_label(suite, &secret, label, b"", nh)?,
    ))
}

/// DeriveTreeSecret(secret, label, generation, length) =
/// ExpandWithLabel(secret, label, uint32 generation, length) (§9.1).
#[pyfunction]
fn interop_derive_tree_secret<'py>(
    py: Python<'py>,
    ciphersuite: u16,
    secret: BytesIn,
    label: &str,
    generation: u32,
    length: u16,
) -> PyResult<Bound<'py, PyBytes>> {
    let suite = suite_from_u16(ciphersuite)?;
    let out = expand_with_label(suite, &secret, label, &generation.to_be_bytes(), length)?;
    Ok(PyBytes::new(py, &out))
}

/// Content signed with a label, for OpenMLS's `Signable` (SignWithLabel, §5.1.2).
struct LabeledContent {
    label: String,
    content: Vec<u8>,
}

impl Signable for LabeledContent {
    type SignedOutput = Signature;

    fn unsigned_payload(&self) -> std::result::Result<Vec<u8>, tls_codec::Error> {
        Ok(self.content.clone())
    }

    fn label(&self) -> &str {
        &self.label
    }
}

/// Content with its signature, for OpenMLS's `Verifiable` (VerifyWithLabel, §5.1.2).
struct LabeledSignature {
    label: String,
    content: Vec<u8>,
    signature: Signature,
}

struct Verified;
impl VerifiedStruct for Verified {}

impl Verifiable for LabeledSignature {
    type VerifiedStruct = Verified;

    fn unsigned_payload(&self) -> std::result::Result<Vec<u8>, tls_codec::Error> {
        Ok(self.content.clone())
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn label(&self) -> &str {
        &self.label
    }

    fn verify(
        self,
        crypto: &impl OpenMlsCrypto,
        pk: &OpenMlsSignaturePublicKey,
    ) -> std::result::Result<Verified, openmls::ciphersuite::signable::SignatureError> {
        self.verify_no_out(crypto, pk).map(|_| Verified)
    }
}

/// SignWithLabel(priv, label, content) (§5.1.2) by OpenMLS's `Signable::sign`.
#[pyfunction]
fn interop_sign_with_label<'py>(
    py: Python<'py>,
    ciphersuite: u16,
    private_key: BytesIn,
    public_key: BytesIn,
    label: &str,
    content: BytesIn,
) -> PyResult<Bound<'py, PyBytes>> {
    let suite = suite_from_u16(ciphersuite)?;
    let signer = crate::credentials::SigningKey::from_raw(
        suite.signature_algorithm(),
        private_key.to_vec(),
        public_key.to_vec(),
    );
    let sig = LabeledContent {
        label: label.to_string(),
        content: content.to_vec(),
    }
    .sign(&signer)
    .map_err(|e| Error::InvalidArgument(format!("signing failed: {e}")))?;
    let value: VLBytes = parse("signature", &tls(&sig)?)?;
    Ok(PyBytes::new(py, value.as_slice()))
}

/// VerifyWithLabel(pub, label, content, signature) (§5.1.2) by OpenMLS's
/// `Verifiable::verify`; raises InvalidSignatureError if it does not verify.
#[pyfunction]
fn interop_verify_with_label(
    ciphersuite: u16,
    public_key: BytesIn,
    label: &str,
    content: BytesIn,
    signature: BytesIn,
) -> PyResult<()> {
    let suite = suite_from_u16(ciphersuite)?;
    let pk = OpenMlsSignaturePublicKey::new(
        VLBytes::from(public_key.to_vec()),
        suite.signature_algorithm(),
    )
    .map_err(|e| Error::InvalidArgument(format!("public key: {e:?}")))?;
    LabeledSignature {
        label: label.to_string(),
        content: content.to_vec(),
        signature: Signature::from(signature.to_vec()),
    }
    .verify(&crypto(), &pk)
    .map_err(|_| Error::InvalidSignature("VerifyWithLabel failed".into()))?;
    Ok(())
}

/// `EncryptContext { opaque label<V>; opaque context<V> }` (§5.1.3).
fn encrypt_context(label: &str, context: &[u8]) -> Result<Vec<u8>> {
    let mut info = Vec::new();
    VLBytes::from(format!("{LABEL_PREFIX}{label}").into_bytes())
        .tls_serialize(&mut info)
        .and_then(|_| VLBytes::from(context.to_vec()).tls_serialize(&mut info))
        .map_err(|e| Error::Library(e.to_string()))?;
    Ok(info)
}

/// EncryptWithLabel(pub, label, context, plaintext) (§5.1.3), built here on the
/// provider's HPKE SealBase. Returns ``(kem_output, ciphertext)``.
#[pyfunction]
fn interop_encrypt_with_label<'py>(
    py: Python<'py>,
    ciphersuite: u16,
    public_key: BytesIn,
    label: &str,
    context: BytesIn,
    plaintext: BytesIn,
) -> PyResult<(Bound<'py, PyBytes>, Bound<'py, PyBytes>)> {
    let suite = suite_from_u16(ciphersuite)?;
    let info = encrypt_context(label, &context)?;
    let ct = crypto()
        .hpke_seal(suite.hpke_config(), &public_key, &info, b"", &plaintext)
        .map_err(|e| Error::InvalidArgument(format!("hpke_seal: {e:?}")))?;
    Ok((
        PyBytes::new(py, ct.kem_output.as_slice()),
        PyBytes::new(py, ct.ciphertext.as_slice()),
    ))
}

/// DecryptWithLabel(priv, label, context, kem_output, ciphertext) (§5.1.3), built here
/// on the provider's HPKE OpenBase. Raises DecryptionError.
#[pyfunction]
fn interop_decrypt_with_label<'py>(
    py: Python<'py>,
    ciphersuite: u16,
    private_key: BytesIn,
    label: &str,
    context: BytesIn,
    kem_output: BytesIn,
    ciphertext: BytesIn,
) -> PyResult<Bound<'py, PyBytes>> {
    let suite = suite_from_u16(ciphersuite)?;
    let info = encrypt_context(label, &context)?;
    let input = HpkeCiphertext {
        kem_output: kem_output.to_vec().into(),
        ciphertext: ciphertext.to_vec().into(),
    };
    let pt = crypto()
        .hpke_open(suite.hpke_config(), &input, &private_key, &info, b"")
        .map_err(|_| Error::Decryption)?;
    Ok(PyBytes::new(py, &pt))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(interop_load_key_package, m)?)?;
    m.add_function(wrap_pyfunction!(interop_import_key_package, m)?)?;
    m.add_function(wrap_pyfunction!(interop_join_group, m)?)?;
    m.add_function(wrap_pyfunction!(interop_process_welcome, m)?)?;
    m.add_function(wrap_pyfunction!(interop_verify_ratchet_tree, m)?)?;
    m.add_function(wrap_pyfunction!(interop_roundtrip, m)?)?;
    m.add_function(wrap_pyfunction!(interop_decode_vl_header, m)?)?;
    m.add_function(wrap_pyfunction!(interop_ref_hash, m)?)?;
    m.add_function(wrap_pyfunction!(interop_expand_with_label, m)?)?;
    m.add_function(wrap_pyfunction!(interop_derive_secret, m)?)?;
    m.add_function(wrap_pyfunction!(interop_derive_tree_secret, m)?)?;
    m.add_function(wrap_pyfunction!(interop_sign_with_label, m)?)?;
    m.add_function(wrap_pyfunction!(interop_verify_with_label, m)?)?;
    m.add_function(wrap_pyfunction!(interop_encrypt_with_label, m)?)?;
    m.add_function(wrap_pyfunction!(interop_decrypt_with_label, m)?)?;
    Ok(())
}
