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

/// This crate's version, from Cargo.toml: the one source of the package's version (maturin
/// writes it into the wheel's metadata, which is where `rcs_mls.__version__` reads it).
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The OpenMLS release this crate is built on. Keep in sync with Cargo.toml's `=` pin;
/// `versions_match_cargo_lock` below fails when Cargo.lock resolves another one.
pub const OPENMLS_VERSION: &str = "0.9.2";

/// The aws-lc-rs release (the crypto provider's primitives, AWS-LC). Keep in sync with
/// Cargo.lock; `versions_match_cargo_lock` below checks it.
pub const AWS_LC_RS_VERSION: &str = "1.19.0";

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
    m.add("VERSION", VERSION)?;
    m.add("OPENMLS_VERSION", OPENMLS_VERSION)?;
    m.add("AWS_LC_RS_VERSION", AWS_LC_RS_VERSION)?;
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

#[cfg(test)]
mod tests {
    use super::{AWS_LC_RS_VERSION, OPENMLS_VERSION, VERSION};

    /// The version Cargo.lock resolves for the package `name`, if it has exactly one.
    fn locked_version(lock: &str, name: &str) -> Option<String> {
        let wanted = format!("name = \"{name}\"");
        let mut found = None;
        let mut lines = lock.lines();
        while let Some(line) = lines.next() {
            if line.trim() == wanted {
                let version = lines.next()?.trim();
                let version = version.strip_prefix("version = \"")?.strip_suffix('"')?;
                if found.replace(version.to_owned()).is_some() {
                    return None; // two versions of one crate: ambiguous
                }
            }
        }
        found
    }

    #[test]
    fn versions_match_cargo_lock() {
        let lock = include_str!("../../Cargo.lock");
        assert_eq!(
            locked_version(lock, "openmls").as_deref(),
            Some(OPENMLS_VERSION)
        );
        assert_eq!(
            locked_version(lock, "aws-lc-rs").as_deref(),
            Some(AWS_LC_RS_VERSION)
        );
        assert_eq!(locked_version(lock, "rcs-mls").as_deref(), Some(VERSION));
    }

    #[test]
    fn openmls_pin_matches_cargo_toml() {
        let manifest = include_str!("../../Cargo.toml");
        let pin = format!("openmls = {{ version = \"={OPENMLS_VERSION}\"");
        assert!(manifest.contains(&pin), "Cargo.toml does not pin {pin}");
    }
}
