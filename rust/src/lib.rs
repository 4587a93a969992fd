//! The native core of rcs-mls: MLS (RFC 9420) through OpenMLS, and RCS file encryption.
//! This is the only `#[pymodule]`; every native export is registered here.

mod client;
mod conversation_store;
mod credentials;
#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod cross_provider;
pub mod crypto;
mod durability;
mod error;
mod filecrypt;
mod group;
mod hpke;
mod inspect;
mod interop;
mod key_packages;
mod pg_storage;
mod provider;
mod rcs_by_reference;
mod rcs_gaps;
mod secret_bytes;
mod storage;
mod types;
mod welcome;

use pyo3::prelude::*;

#[pymodule(gil_used = false)]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<credentials::SignatureKeyPair>()?;
    m.add_class::<credentials::Credential>()?;
    m.add_class::<key_packages::KeyPackage>()?;
    m.add_class::<client::Client>()?;
    m.add_class::<group::GroupConfig>()?;
    m.add_class::<group::Group>()?;
    m.add_class::<group::CommitResult>()?;
    m.add_class::<group::MemberInfo>()?;
    m.add_class::<group::ApplicationMessageOut>()?;
    m.add_class::<group::ProposalMessageOut>()?;
    m.add_class::<group::StagedCommitOut>()?;
    m.add_class::<group::CredentialChangeOut>()?;
    m.add_class::<welcome::StagedWelcomeOut>()?;
    m.add("SUPPORTED_CIPHERSUITES", types::SUPPORTED_SUITES.to_vec())?;
    m.add("OPENMLS_VERSION", "0.9.2")?;
    // Benchmarks warn when they measure a debug build (`make dev`) instead of a release one.
    m.add("DEBUG_BUILD", cfg!(debug_assertions))?;
    filecrypt::register(m)?;
    interop::register(m)?;
    rcs_gaps::register(m)?;
    conversation_store::register(m)?;
    inspect::register(m)?;
    durability::register(m)?;
    Ok(())
}
