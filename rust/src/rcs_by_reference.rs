//! RCC.16 leave requests committed by reference (RCC16.md §8: "a by-reference SelfRemove
//! proposal that another member commits").
//!
//! OpenMLS 0.9.2 cannot decode the bare 0xF003 SelfRemove and 0xF004 ServerRemove, so it
//! never holds them in its proposal store, and a commit that references one fails with
//! "the proposal queue is missing a proposal". The store is reached through the storage
//! trait and `MlsGroup::store_pending_proposal`, both public: a bare proposal verified by
//! [`crate::rcs_gaps::verify_bare`] is queued there under the reference every RFC 9420
//! implementation computes for it (RFC 9420 §5.2: RefHash("MLS 1.0 Proposal Reference",
//! AuthenticatedContent)), *as the proposal with the effect RFC 9420 and RCC.16 give it*:
//!
//! * SelfRemove (0xF003, from member `i`): a Remove of leaf `i` sent by member `i`;
//! * ServerRemove (0xF004, from external sender `j`, `uint32 to_remove`): a Remove of
//!   leaf `to_remove` sent by external sender `j`.
//!
//! The wire never sees the stand-in: commits carry references only, and the reference is
//! the one of the bare proposal. The proposals are queued for one operation and taken out
//! again in the same store transaction (OpenMLS refuses to encrypt while proposals are
//! pending), so the caller keeps them and passes them again to the next operation.
//! Only proposals of the group's current epoch can be referenced (RFC 9420 §12.2).

use openmls::ciphersuite::hash_ref::{make_proposal_ref, ProposalRef};
use openmls::messages::proposals::{ProposalOrRefType, RemoveProposal};
use openmls::prelude::*;
use serde_json::json;

use crate::client::ClientCore;
use crate::error::{Error, Result};
use crate::rcs_gaps::{
    parse_bare, put_vl, verify_bare, BareProposal, PROPOSAL_SELF_REMOVE, PROPOSAL_SERVER_REMOVE,
    SENDER_EXTERNAL, SENDER_MEMBER, WIRE_PUBLIC,
};

/// The RFC 9420 reference of a proposal PublicMessage: its AuthenticatedContent is the
/// wire format, the FramedContent and the FramedContentAuthData (the signature; no
/// confirmation tag for a proposal, and the membership tag is not part of it).
pub(crate) fn proposal_ref(
    p: &BareProposal<'_>,
    suite: Ciphersuite,
    c: &ClientCore,
) -> Result<ProposalRef> {
    let mut value = WIRE_PUBLIC.to_be_bytes().to_vec();
    value.extend_from_slice(p.content);
    put_vl(&mut value, p.signature)?;
    make_proposal_ref(&value, suite, c.provider.crypto())
        .map_err(|e| Error::Library(format!("proposal reference: {e:?}")))
}

fn to_json<T: serde::Serialize>(value: &T) -> Result<serde_json::Value> {
    serde_json::to_value(value).map_err(|e| Error::Library(format!("serialising: {e}")))
}

/// The OpenMLS stand-in for a verified bare leave request, queued by reference.
fn stand_in(g: &MlsGroup, c: &ClientCore, message: &[u8]) -> Result<QueuedProposal> {
    let verified = verify_bare(g, c, message)?;
    if verified.epoch != g.epoch().as_u64() {
        return Err(Error::WrongEpoch(format!(
            "a proposal of epoch {} cannot be referenced in epoch {}",
            verified.epoch,
            g.epoch().as_u64()
        )));
    }
    let p = parse_bare(message)?;
    let (removed, sender) = match (p.proposal_type, p.sender_type) {
        (PROPOSAL_SELF_REMOVE, SENDER_MEMBER) => (
            p.sender_index,
            Sender::Member(LeafNodeIndex::new(p.sender_index)),
        ),
        (PROPOSAL_SERVER_REMOVE, SENDER_EXTERNAL) => {
            let to_remove: [u8; 4] = p
                .body
                .try_into()
                .map_err(|_| Error::Parse("a ServerRemove carries a uint32".into()))?;
            (
                u32::from_be_bytes(to_remove),
                Sender::External(SenderExtensionIndex::new(p.sender_index)),
            )
        }
        _ => {
            return Err(Error::InvalidArgument(
                "only a member's SelfRemove (0xF003) or an external sender's ServerRemove \
                 (0xF004) is committed by reference"
                    .into(),
            ))
        }
    };
    if g.member_at(LeafNodeIndex::new(removed)).is_none() {
        return Err(Error::Validation(format!("no member at leaf {removed}")));
    }
    let remove: RemoveProposal = serde_json::from_value(json!({ "removed": removed }))
        .map_err(|e| Error::Library(format!("a Remove proposal: {e}")))?;
    let reference = proposal_ref(&p, g.ciphersuite(), c)?;
    // QueuedProposal's fields are crate-private; its serde form is how OpenMLS stores it.
    serde_json::from_value(json!({
        "proposal": to_json(&Proposal::Remove(Box::new(remove)))?,
        "proposal_reference": to_json(&reference)?,
        "sender": to_json(&sender)?,
        "proposal_or_ref_type": to_json(&ProposalOrRefType::Reference)?,
    }))
    .map_err(|e| Error::Library(format!("OpenMLS's QueuedProposal layout changed: {e}")))
}

/// Queue the stand-ins of `messages` (bare SelfRemove / ServerRemove PublicMessages of the
/// current epoch) in the group's proposal store; returns their references so the caller
/// takes them out again.
pub(crate) fn queue(
    g: &mut MlsGroup,
    c: &ClientCore,
    messages: &[Vec<u8>],
) -> Result<Vec<ProposalRef>> {
    let mut refs = Vec::with_capacity(messages.len());
    for message in messages {
        let proposal = match stand_in(g, c, message) {
            Ok(p) => p,
            Err(e) => {
                unqueue(g, c, &refs);
                return Err(e);
            }
        };
        refs.push(proposal.proposal_reference_ref().clone());
        g.store_pending_proposal(c.provider.storage(), proposal)
            .map_err(|e| Error::Storage(format!("{e:?}")))?;
    }
    Ok(refs)
}

/// Take queued stand-ins out of the proposal store (those a commit consumed are gone).
pub(crate) fn unqueue(g: &mut MlsGroup, c: &ClientCore, refs: &[ProposalRef]) {
    for r in refs {
        let _ = g.remove_pending_proposal(c.provider.storage(), r);
    }
}
