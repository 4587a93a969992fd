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
//! | `create_client`        | `identity`, `suite`, `encrypt_handshake?`, `ratchet_tree_extension?`, `padding?` | `client`          |
//! | `key_package`          | `client`                                               | `key_package`                            |
//! | `create_group`         | `client`, `group_id?`                                  | `group`, `group_id`                      |
//! | `join`                 | `client`, `welcome`, `ratchet_tree?`                   | `group` + state                          |
//! | `external_join`        | `client`, `group_info`, `ratchet_tree?`, `authenticated_data?` | `group`, `commit` + state        |
//! | `encrypt`              | `group`, `plaintext`, `authenticated_data?`            | `message`                                |
//! | `process`              | `group`, `message`                                     | `type` = `application` / `proposal` / `commit`, with details |
//! | `add`                  | `group`, `key_packages` (list), `apply?`               | `commit`, `welcome`, `has_path`, `epoch` |
//! | `remove`               | `group`, `leaves` (list), `apply?`                     | same as `add`                            |
//! | `update`               | `group`, `authenticated_data?`, `apply?`               | same (always with an UpdatePath)         |
//! | `commit_pending`       | `group`, `authenticated_data?`, `apply?`               | same (received proposals by reference)   |
//! | `apply_pending_commit` | `group`                                                | state                                    |
//! | `clear_pending_commit` | `group`                                                | state                                    |
//! | `clear_proposals`      | `group`                                                | state                                    |
//! | `propose_add`          | `group`, `key_package`, `authenticated_data?`          | `proposal`                               |
//! | `propose_remove`       | `group`, `leaf`, `authenticated_data?`                 | `proposal`                               |
//! | `propose_update`       | `group`, `authenticated_data?`                         | `proposal`                               |
//! | `group_info`           | `group`, `with_ratchet_tree?` (default true)           | `group_info`                             |
//! | `ratchet_tree`         | `group`                                                | `ratchet_tree`                           |
//! | `epoch_authenticator`  | `group`                                                | `epoch_authenticator`, `epoch`           |
//! | `export_secret`        | `group`, `label` (string), `context?`, `length`        | `secret`                                 |
//! | `epoch` / `state`      | `group`                                                | state: `epoch`, `group_id`, `own_leaf_index`, `cipher_suite`, `has_pending_commit`, `commit_required` |
//! | `roster`               | `group`                                                | `members`: [{`leaf_index`, `identity`}]  |
//! | `drop_group` / `drop_client` | `group` / `client`                               |                                          |
//! | `shutdown`             |                                                        | (then the peer exits)                    |
//!
//! `process` results: `application` {`plaintext`, `authenticated_data`, `sender`, `epoch`};
//! `proposal` {`proposal_type`, `sender`, `proposal_ref`, `authenticated_data`,
//! `removed_leaf_index`?, `added_identity`?}; `commit` {`epoch`, `committer`, `is_external`,
//! `removed_self`, `proposals`: [{`proposal_type`, `sender`, ...}], `authenticated_data`}.
//! The Python driver is `rcs_mls.interop.mlsrs`.

use std::collections::HashMap;
use std::io::{BufRead, Write};
use std::panic::{catch_unwind, AssertUnwindSafe};

use mls_rs::client_builder::{
    BaseConfig, PaddingMode, WithCryptoProvider, WithIdentityProvider, WithMlsRules,
};
use mls_rs::group::proposal::Proposal;
use mls_rs::group::{
    CommitEffect, CommitOutput, ExportedTree, ProposalSender, ReceivedMessage, Sender,
};
use mls_rs::identity::basic::{BasicCredential, BasicIdentityProvider};
use mls_rs::identity::SigningIdentity;
use mls_rs::mls_rules::{CommitOptions, DefaultMlsRules, EncryptionOptions};
use mls_rs::{
    CipherSuite, CipherSuiteProvider, Client, CryptoProvider, ExtensionList, Group, MlsMessage,
};
use mls_rs_crypto_rustcrypto::RustCryptoProvider;
use serde_json::{json, Map, Value};

type Config = WithMlsRules<
    DefaultMlsRules,
    WithIdentityProvider<BasicIdentityProvider, WithCryptoProvider<RustCryptoProvider, BaseConfig>>,
>;
type MlsClient = Client<Config>;
type MlsGroup = Group<Config>;

type Res<T> = Result<T, String>;

#[derive(Default)]
struct Peer {
    next_handle: u64,
    clients: HashMap<u64, MlsClient>,
    groups: HashMap<u64, MlsGroup>,
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

fn identity_of(signing_identity: &SigningIdentity) -> String {
    match signing_identity.credential.as_basic() {
        Some(basic) => hex::encode(basic.identifier()),
        None => String::new(),
    }
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
                let kp = self
                    .client(req)?
                    .generate_key_package_message(ExtensionList::new(), ExtensionList::new(), None)
                    .map_err(err("generate key package"))?;
                Ok(json!({"key_package": encode(&kp)?}))
            }
            "create_group" => {
                let client = self.client(req)?;
                let mut builder = client.group_builder().map_err(err("group builder"))?;
                if let Some(gid) = req.hex_opt("group_id")? {
                    builder = builder.with_group_id(gid);
                }
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
                let (group, commit) = builder.build(gi).map_err(err("external commit"))?;
                let commit = encode(&commit)?;
                let mut state = group_state(&group);
                state["commit"] = json!(commit);
                let h = self.add_group(group);
                Ok(with_handle(state, h))
            }
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
            _ => self.group_op(op, req),
        }
    }

    fn create_client(&mut self, req: &Req<'_>) -> Res<Value> {
        let identity = req.hex("identity")?;
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
        let crypto = RustCryptoProvider::default();
        let cs = crypto
            .cipher_suite_provider(suite)
            .ok_or_else(|| format!("mls-rs-crypto-rustcrypto does not support suite {suite_id}"))?;
        let (secret, public) = cs
            .signature_key_generate()
            .map_err(err("signature key generation"))?;
        let signing_identity =
            SigningIdentity::new(BasicCredential::new(identity).into_credential(), public);
        let rules = DefaultMlsRules::new()
            .with_commit_options(
                CommitOptions::new()
                    .with_ratchet_tree_extension(ratchet_tree_extension)
                    .with_single_welcome_message(true)
                    .with_path_required(false)
                    .with_allow_external_commit(false),
            )
            .with_encryption_options(EncryptionOptions::new(encrypt_handshake, padding));
        let client = Client::builder()
            .crypto_provider(crypto)
            .identity_provider(BasicIdentityProvider::new())
            .mls_rules(rules)
            .signing_identity(signing_identity, secret, suite)
            .build();
        let h = self.handle();
        self.clients.insert(h, client);
        Ok(json!({"client": h}))
    }

    fn group_op(&mut self, op: &str, req: &Req<'_>) -> Res<Value> {
        let group = self.group(req)?;
        match op {
            "encrypt" => {
                let pt = req.hex("plaintext")?;
                let ad = req.hex_or_empty("authenticated_data")?;
                let msg = group
                    .encrypt_application_message(&pt, ad)
                    .map_err(err("encrypt"))?;
                Ok(json!({"message": encode(&msg)?}))
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
                let out = group.commit(ad).map_err(err("commit"))?;
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
                let msg = group.propose_update(ad).map_err(err("propose update"))?;
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

fn with_handle(mut state: Value, h: u64) -> Value {
    state["group"] = json!(h);
    state
}

fn roster_json(group: &MlsGroup) -> Value {
    group
        .roster()
        .members_iter()
        .map(|m| json!({"leaf_index": m.index, "identity": identity_of(&m.signing_identity)}))
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
        })),
        ReceivedMessage::Proposal(p) => {
            let mut out = proposal_json(&p.proposal);
            out["type"] = json!("proposal");
            out["sender"] = match p.sender {
                ProposalSender::Member(i) => json!(i),
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
