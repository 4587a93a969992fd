//! What keeps a stored group consistent across handles and processes, and the test hook
//! that proves a panic is survivable.
//!
//! # Group versions
//!
//! Every group has an application record in its client's store (`group/<id>`, see
//! [`crate::client::group_record_key`]). Its value is the group's *version*: 8 random
//! bytes chosen when the group enters the store (so a group deleted and joined again
//! under the same id never looks like the old one) followed by a big-endian `u64` write
//! counter. Every operation that changes the stored group bumps the counter in the same
//! transaction. A [`crate::group::Group`] handle remembers the version its in-memory
//! `MlsGroup` corresponds to; at the start of every operation it compares that with the
//! store and reloads the group when they differ — whichever handle, thread or process
//! moved it. So two handles on one group never reuse a (leaf, generation), and a stale
//! handle never writes its old ratchet state back. (Stores written before versions
//! existed hold an empty value: it reads as version zero and is replaced at the first
//! write.)

use openmls_traits::OpenMlsProvider as _;
use pyo3::prelude::*;

use crate::client::Client;
use crate::error::{Error, Result};
use crate::group::Group;

/// Length of a version: 8 bytes of incarnation, 8 of counter.
const VERSION_LEN: usize = 16;

/// The version of a group that has just entered the store.
pub fn fresh_version() -> Vec<u8> {
    let mut v = vec![0u8; VERSION_LEN];
    // AWS-LC's DRBG: it aborts the process rather than return a failure, so the error
    // (which would leave a zero incarnation) is not seen in practice.
    let _ = crate::crypto::fill_random(&mut v[..8]);
    v
}

/// The version after one more write to the group whose version is `stored`.
pub fn next_version(stored: &[u8]) -> Result<Vec<u8>> {
    if stored.is_empty() {
        // A store from before versions: version zero.
        let mut v = vec![0u8; VERSION_LEN];
        v[8..].copy_from_slice(&1u64.to_be_bytes());
        return Ok(v);
    }
    let corrupted = || Error::Storage("a group record in the store is corrupted".into());
    if stored.len() != VERSION_LEN {
        return Err(corrupted());
    }
    let mut counter = [0u8; 8];
    counter.copy_from_slice(&stored[8..]);
    let next = u64::from_be_bytes(counter).wrapping_add(1);
    let mut v = stored.to_vec();
    v[8..].copy_from_slice(&next.to_be_bytes());
    Ok(v)
}

// ---------------------------------------------------------------------------------------
// Test hook
// ---------------------------------------------------------------------------------------

/// The application record the panic hook writes before it panics; the tests check it
/// was rolled back.
pub const PANIC_PROBE_KEY: &[u8] = b"panic-probe";

/// FOR TESTS ONLY: panic in the middle of a real operation, to prove that a panic is
/// survivable. With `group`, inside a group operation (holding the client's lock, the
/// group's lock and an open store transaction, after encrypting a message so that the
/// group in memory and the store have both changed); otherwise inside a client
/// transaction. Before panicking it writes the app record `panic-probe`. The call raises
/// `LibraryError`; the transaction is rolled back and the client and group stay usable.
/// Harmless unless called; nothing in the package calls it.
#[pyfunction]
#[pyo3(name = "_panic_inside_transaction_for_tests", signature = (client, group=None))]
fn panic_inside_transaction_for_tests(
    py: Python<'_>,
    client: PyRef<'_, Client>,
    group: Option<PyRef<'_, Group>>,
) -> PyResult<()> {
    match group {
        Some(group) => group.with(py, |g, c| {
            c.provider.storage().put_app(PANIC_PROBE_KEY, b"written")?;
            g.create_message(&c.provider, &*c.signer, b"never sent")
                .map_err(|e| Error::Library(e.to_string()))?;
            panic!("a panic inside a group operation, for the tests");
        }),
        None => {
            let core = client.core.clone();
            Ok(crate::error::detach(py, move || {
                core.run(|_| -> Result<()> {
                    core.provider
                        .storage()
                        .put_app(PANIC_PROBE_KEY, b"written")?;
                    panic!("a panic inside a client transaction, for the tests");
                })
            })?)
        }
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(panic_inside_transaction_for_tests, m)?)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_move_forward() -> Result<()> {
        let a = fresh_version();
        let b = fresh_version();
        assert_eq!(a.len(), VERSION_LEN);
        assert_ne!(a, b, "two incarnations share a version");
        let a1 = next_version(&a)?;
        assert_eq!(&a1[..8], &a[..8]);
        assert_ne!(a1, a);
        assert_ne!(next_version(&a1)?, a1);
        assert_ne!(next_version(b"")?, b"".to_vec());
        assert!(matches!(next_version(b"short"), Err(Error::Storage(_))));
        Ok(())
    }
}
