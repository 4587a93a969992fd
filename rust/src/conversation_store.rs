//! A conversation's own state (beyond the MLS group) in the client's store, and the
//! journal that makes it durable with the MLS operation that produced it.
//!
//! Decrypting an application message uses up its key: if the process died between the
//! decryption and the moment the conversation stored what the message carried (a file key,
//! a subject key), that would be lost for good. So the decrypted message is written to a
//! journal record *in the same store transaction* as the decryption
//! (`rcs_process_message(..., journal=...)`); the conversation then stores its state and
//! drops the journal entry in one transaction (`rcs_save_conversation`). A conversation
//! loaded after a crash replays the journal entries left. Records live under `conv/`:
//! `conv/state/<group id>` and `conv/journal/<u16 len><group id><entry id>`.

use openmls::prelude::*;
use pyo3::prelude::*;
use pyo3::types::PyBytes;
use serde::{Deserialize, Serialize};
use tls_codec::{Deserialize as _, Serialize as _};

use crate::client::{Client, ClientCore};
use crate::credentials::Credential;
use crate::error::{Error, Result};
use crate::group::Group;
use crate::types::BytesIn;

const STATE_PREFIX: &[u8] = b"conv/state/";
const JOURNAL_PREFIX: &[u8] = b"conv/journal/";

fn state_key(group_id: &[u8]) -> Vec<u8> {
    [STATE_PREFIX, group_id].concat()
}

fn journal_prefix(group_id: &[u8]) -> Result<Vec<u8>> {
    let len = u16::try_from(group_id.len())
        .map_err(|_| Error::InvalidArgument("group id too long".into()))?;
    Ok([JOURNAL_PREFIX, &len.to_be_bytes(), group_id].concat())
}

/// One decrypted application message, as the journal keeps it.
#[derive(Serialize, Deserialize)]
struct Entry {
    /// What the conversation asked to keep with it (its message id, headers...).
    context: Vec<u8>,
    plaintext: Vec<u8>,
    authenticated_data: Vec<u8>,
    sender_leaf_index: Option<u32>,
    /// The sender's credential, TLS-encoded.
    credential: Vec<u8>,
    epoch: u64,
}

/// Write the journal entry of a decrypted message (inside the caller's transaction).
pub(crate) fn journal(
    c: &ClientCore,
    group_id: &[u8],
    entry_id: &[u8],
    context: &[u8],
    app: (
        &[u8],
        &[u8],
        Option<u32>,
        &openmls::prelude::Credential,
        u64,
    ),
) -> Result<()> {
    let (plaintext, aad, sender, credential, epoch) = app;
    let entry = Entry {
        context: context.to_vec(),
        plaintext: plaintext.to_vec(),
        authenticated_data: aad.to_vec(),
        sender_leaf_index: sender,
        credential: credential
            .tls_serialize_detached()
            .map_err(|e| Error::Library(format!("credential: {e}")))?,
        epoch,
    };
    let value = serde_json::to_vec(&entry).map_err(|e| Error::Library(format!("journal: {e}")))?;
    let key = [journal_prefix(group_id)?, entry_id.to_vec()].concat();
    // Always in the client's own key space, even for an archived group (a late message
    // of a conversation's previous era): the conversation folds it in with its state.
    Ok(c.provider.storage().home().put_app(&key, &value)?)
}

/// Erase a group's conversation records (inside the caller's transaction).
pub(crate) fn erase(c: &ClientCore, group_id: &[u8]) -> Result<()> {
    let storage = c.provider.storage();
    storage.delete_app(&state_key(group_id))?;
    storage.delete_app_prefix(&journal_prefix(group_id)?)?;
    Ok(())
}

/// A journal entry handed to Python: `(entry_id, context, plaintext, authenticated_data,
/// sender_leaf_index, sender_credential, epoch)`.
type EntryPy = (
    Py<PyBytes>,
    Py<PyBytes>,
    Py<PyBytes>,
    Py<PyBytes>,
    Option<u32>,
    Py<Credential>,
    u64,
);

/// The stored state of a group's conversation (None if none was saved) and the journal
/// entries not yet folded into it, oldest first.
#[pyfunction]
fn rcs_load_conversation(
    py: Python<'_>,
    group: PyRef<'_, Group>,
) -> PyResult<(Option<Py<PyBytes>>, Vec<EntryPy>)> {
    let (state, entries) = group.with(py, |g, c| {
        let id = g.group_id().as_slice().to_vec();
        let storage = c.provider.storage();
        let prefix = journal_prefix(&id)?;
        let mut entries = Vec::new();
        for (key, value) in storage.list_app(&prefix)? {
            let entry: Entry = serde_json::from_slice(&value)
                .map_err(|e| Error::Storage(format!("a corrupted conversation journal: {e}")))?;
            entries.push((key[prefix.len()..].to_vec(), entry));
        }
        Ok((storage.get_app(&state_key(&id))?, entries))
    })?;
    let mut out = Vec::with_capacity(entries.len());
    for (id, e) in entries {
        let credential = openmls::prelude::Credential::tls_deserialize_exact(&e.credential)
            .map_err(|err| Error::Storage(format!("a corrupted journal credential: {err}")))?;
        out.push((
            PyBytes::new(py, &id).unbind(),
            PyBytes::new(py, &e.context).unbind(),
            PyBytes::new(py, &e.plaintext).unbind(),
            PyBytes::new(py, &e.authenticated_data).unbind(),
            e.sender_leaf_index,
            Py::new(py, Credential { inner: credential })?,
            e.epoch,
        ));
    }
    Ok((state.map(|s| PyBytes::new(py, &s).unbind()), out))
}

/// Store a group's conversation state and drop the journal entries it now covers, in
/// one transaction.
#[pyfunction]
#[pyo3(signature = (group, state, *, done=Vec::new()))]
fn rcs_save_conversation(
    py: Python<'_>,
    group: PyRef<'_, Group>,
    state: BytesIn,
    done: Vec<Vec<u8>>,
) -> PyResult<()> {
    group.with(py, |g, c| {
        let id = g.group_id().as_slice().to_vec();
        let storage = c.provider.storage();
        storage.put_app(&state_key(&id), &state)?;
        let prefix = journal_prefix(&id)?;
        for entry in &done {
            storage.delete_app(&[prefix.as_slice(), entry].concat())?;
        }
        Ok(())
    })?;
    Ok(())
}

/// The group ids of a client's stored conversations.
#[pyfunction]
fn rcs_list_conversations<'py>(
    py: Python<'py>,
    client: PyRef<'_, Client>,
) -> PyResult<Vec<Bound<'py, PyBytes>>> {
    let core = client.core.clone();
    let keys = crate::error::detach(py, move || -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        core.run_plain(|| Ok(core.provider.storage().list_app(STATE_PREFIX)?))
    })?;
    Ok(keys
        .into_iter()
        .map(|(k, _)| PyBytes::new(py, &k[STATE_PREFIX.len()..]))
        .collect())
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(rcs_load_conversation, m)?)?;
    m.add_function(wrap_pyfunction!(rcs_save_conversation, m)?)?;
    m.add_function(wrap_pyfunction!(rcs_list_conversations, m)?)?;
    Ok(())
}
