//! Joining from a Welcome, in one step or in two: [`StagedWelcome`] lets the caller see
//! who is in the group (every member's credential and signature key) and the group's
//! extensions *before* anything is stored, and refuse to join.

use std::sync::{Arc, Mutex};

use openmls::prelude::*;
use pyo3::prelude::*;
use pyo3::types::PyBytes;
use tls_codec::{Deserialize as _, Serialize as _};

use crate::client::ClientCore;
use crate::error::{classify, detach, relock, Error, Result};
use crate::group::{extensions_to_pairs_inner, Group, MemberData, MemberInfo};
use crate::types::BytesIn;

/// The Welcome, its optional out-of-band ratchet tree and the join settings.
#[derive(Clone)]
pub struct WelcomeInput {
    pub welcome: Vec<u8>,
    pub ratchet_tree: Option<Vec<u8>>,
    pub join_config: MlsGroupJoinConfig,
    pub verify_leaf_lifetimes: bool,
    /// Replace a group of the same id this client holds (erased first, in the same
    /// transaction), instead of refusing.
    pub replace_group: bool,
}

/// What a Welcome leads to, read from the staged group (nothing stored).
struct Inspection {
    group_id: Vec<u8>,
    epoch: u64,
    own_leaf_index: u32,
    sender_leaf_index: u32,
    /// The serialized GroupContext: it names the epoch's tree and transcript hashes.
    context: Vec<u8>,
    members: Vec<MemberData>,
    group_context_extensions: Vec<(u16, Vec<u8>)>,
    group_info_extensions: Vec<(u16, Vec<u8>)>,
}

/// Stage the group a Welcome leads to (inside the caller's store transaction), with the
/// GroupInfo extensions the Welcome carried.
fn stage(core: &ClientCore, input: &WelcomeInput) -> Result<(StagedWelcome, Vec<Extension>)> {
    let msg = MlsMessageIn::tls_deserialize_exact(&*input.welcome)
        .map_err(|e| Error::Parse(format!("not an MLSMessage: {e}")))?;
    let MlsMessageBodyIn::Welcome(welcome) = msg.extract() else {
        return Err(Error::InvalidArgument(
            "the MLSMessage is not a Welcome".into(),
        ));
    };
    let tree = input
        .ratchet_tree
        .as_deref()
        .map(|t| {
            RatchetTreeIn::tls_deserialize_exact(t)
                .map_err(|e| Error::Parse(format!("not a ratchet tree: {e}")))
        })
        .transpose()?;
    let mut builder =
        StagedWelcome::build_from_welcome(&core.provider, &input.join_config, welcome)
            .map_err(classify)?;
    let extensions: Vec<Extension> = builder
        .processed_welcome()
        .unverified_group_info()
        .extensions()
        .iter()
        .cloned()
        .collect();
    if let Some(t) = tree {
        builder = builder.with_ratchet_tree(t);
    }
    if !input.verify_leaf_lifetimes {
        builder = builder.skip_lifetime_validation();
    }
    if input.replace_group {
        builder = builder.replace_old_group();
    }
    Ok((builder.build().map_err(classify)?, extensions))
}

fn context_bytes(staged: &StagedWelcome) -> Result<Vec<u8>> {
    staged
        .group_context()
        .tls_serialize_detached()
        .map_err(|e| Error::Library(format!("GroupContext: {e}")))
}

/// Build the group and record it; a group of the same id is erased first when the input
/// says to replace it, else refused. Returns the group and its version (see
/// [`crate::durability`]).
fn build(
    core: &ClientCore,
    input: &WelcomeInput,
    staged: StagedWelcome,
) -> Result<(MlsGroup, Vec<u8>)> {
    let id = staged.group_context().group_id().clone();
    if MlsGroup::load(core.provider.storage(), &id)
        .map_err(|e| Error::Storage(e.to_string()))?
        .is_some()
    {
        if !input.replace_group {
            return Err(Error::GroupState(
                "this client already holds a group with this id".into(),
            ));
        }
        core.erase_group(id.as_slice())?;
    }
    let group = staged.into_group(&core.provider).map_err(classify)?;
    let version = core.record_group(&group)?;
    Ok((group, version))
}

/// Join for good: the group is built and recorded in one store transaction. Returns
/// the group and its version (see [`crate::durability`]).
pub fn join(core: &ClientCore, input: &WelcomeInput) -> Result<(MlsGroup, Vec<u8>)> {
    core.run(|_| {
        let (staged, _) = stage(core, input)?;
        build(core, input, staged)
    })
}

fn inspect(core: &ClientCore, input: &WelcomeInput) -> Result<Inspection> {
    // Staged in a transaction that is rolled back: nothing is stored and the key package
    // the Welcome is encrypted to stays available for the real join.
    core.run_keep(
        |_| {
            let (staged, extensions) = stage(core, input)?;
            let context = staged.group_context();
            Ok(Inspection {
                group_id: context.group_id().as_slice().to_vec(),
                epoch: context.epoch().as_u64(),
                own_leaf_index: staged.own_leaf_index().u32(),
                sender_leaf_index: staged.welcome_sender_index().u32(),
                context: context_bytes(&staged)?,
                members: staged
                    .members()
                    .map(|m| MemberData::from_member(&m))
                    .collect(),
                group_context_extensions: extensions_to_pairs_inner(context.extensions().iter())?,
                group_info_extensions: extensions_to_pairs_inner(extensions.iter())?,
            })
        },
        |_| false,
    )
}

/// A Welcome processed but not joined: inspect the group, then :meth:`join` it or drop
/// this object (nothing was stored; the key package is not used up).
#[pyclass(frozen, module = "rcs_mls._native", name = "StagedWelcome")]
pub struct StagedWelcomeOut {
    core: Arc<ClientCore>,
    input: WelcomeInput,
    context: Vec<u8>,
    joined: Mutex<bool>,
    #[pyo3(get)]
    group_id: Py<PyBytes>,
    #[pyo3(get)]
    epoch: u64,
    /// The leaf this client will occupy.
    #[pyo3(get)]
    own_leaf_index: u32,
    /// The leaf of the member that signed the Welcome's GroupInfo.
    #[pyo3(get)]
    sender_leaf_index: u32,
    /// Every member of the group, this client included.
    #[pyo3(get)]
    members: Vec<Py<MemberInfo>>,
    #[pyo3(get)]
    group_context_extensions: Vec<(u16, Vec<u8>)>,
    /// The extensions of the Welcome's GroupInfo (verified by its signature).
    #[pyo3(get)]
    group_info_extensions: Vec<(u16, Vec<u8>)>,
}

impl StagedWelcomeOut {
    pub fn stage(py: Python<'_>, core: Arc<ClientCore>, input: WelcomeInput) -> PyResult<Self> {
        let seen = detach(py, || inspect(&core, &input))?;
        Ok(Self {
            core,
            input,
            context: seen.context,
            joined: Mutex::new(false),
            group_id: PyBytes::new(py, &seen.group_id).unbind(),
            epoch: seen.epoch,
            own_leaf_index: seen.own_leaf_index,
            sender_leaf_index: seen.sender_leaf_index,
            members: seen
                .members
                .into_iter()
                .map(|m| m.into_py(py))
                .collect::<PyResult<_>>()?,
            group_context_extensions: seen.group_context_extensions,
            group_info_extensions: seen.group_info_extensions,
        })
    }
}

#[pymethods]
impl StagedWelcomeOut {
    /// Join the group this Welcome was inspected for (one store transaction).
    ///
    /// ``archive_previous``: a group of the same id this client holds is moved into
    /// this archive of the store (see :meth:`Client.archive_group`) in the same
    /// transaction, instead of being refused or erased: a conversation's previous era,
    /// kept to read its late messages.
    ///
    /// Raises:
    ///     GroupStateError: already joined, the client holds a group with this id (delete
    ///         it first), or the Welcome no longer leads to the group that was inspected
    ///         (its key package was used or deleted since).
    ///     InvalidArgumentError: the archive holds a group of this id already.
    #[pyo3(signature = (*, archive_previous=None))]
    fn join(&self, py: Python<'_>, archive_previous: Option<BytesIn>) -> PyResult<Group> {
        let group_id = self.group_id.bind(py).as_bytes().to_vec();
        let core = &self.core;
        let input = &self.input;
        let expected = &self.context;
        let joined = &self.joined;
        let (group, version) = detach(py, || -> Result<(MlsGroup, Vec<u8>)> {
            let mut joined = relock(joined);
            if *joined {
                return Err(Error::GroupState("this Welcome was already joined".into()));
            }
            let joined_group = core.run(|_| {
                if let Some(name) = &archive_previous {
                    if core.holds_group(&group_id)? {
                        core.archive_group(&group_id, name)?;
                    }
                }
                let (staged, _) = stage(core, input)?;
                if context_bytes(&staged)? != *expected {
                    return Err(Error::GroupState(
                        "the Welcome no longer leads to the group that was inspected".into(),
                    ));
                }
                build(core, input, staged)
            })?;
            *joined = true;
            Ok(joined_group)
        })?;
        Ok(Group::at(self.core.clone(), group, version))
    }

    fn __repr__(&self, py: Python<'_>) -> String {
        format!(
            "StagedWelcome(group_id={:?}, epoch={}, members={})",
            String::from_utf8_lossy(self.group_id.bind(py).as_bytes()),
            self.epoch,
            self.members.len()
        )
    }
}
