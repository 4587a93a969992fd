//! One internal error type and its single conversion into the Python exceptions
//! defined in `rcs_mls.exceptions`.

use pyo3::PyErr;

pyo3::import_exception!(rcs_mls.exceptions, RcsMlsError);
pyo3::import_exception!(rcs_mls.exceptions, ParseError);
pyo3::import_exception!(rcs_mls.exceptions, UnsupportedCiphersuiteError);
pyo3::import_exception!(rcs_mls.exceptions, InvalidArgumentError);
pyo3::import_exception!(rcs_mls.exceptions, CredentialError);
pyo3::import_exception!(rcs_mls.exceptions, ValidationError);
pyo3::import_exception!(rcs_mls.exceptions, InvalidSignatureError);
pyo3::import_exception!(rcs_mls.exceptions, KeyPackageExpiredError);
pyo3::import_exception!(rcs_mls.exceptions, WrongEpochError);
pyo3::import_exception!(rcs_mls.exceptions, DecryptionError);
pyo3::import_exception!(rcs_mls.exceptions, GroupStateError);
pyo3::import_exception!(rcs_mls.exceptions, StorageError);
pyo3::import_exception!(rcs_mls.exceptions, FileIntegrityError);
pyo3::import_exception!(rcs_mls.exceptions, LibraryError);

/// The binding's error: a kind (which Python exception) and a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    Parse(String),
    UnsupportedCiphersuite(String),
    InvalidArgument(String),
    Credential(String),
    Validation(String),
    InvalidSignature(String),
    KeyPackageExpired(String),
    WrongEpoch(String),
    /// Deliberately carries no reason.
    Decryption,
    GroupState(String),
    Storage(String),
    FileIntegrity,
    Library(String),
}

pub type Result<T> = std::result::Result<T, Error>;

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::Parse(m)
            | Error::UnsupportedCiphersuite(m)
            | Error::InvalidArgument(m)
            | Error::Credential(m)
            | Error::Validation(m)
            | Error::InvalidSignature(m)
            | Error::KeyPackageExpired(m)
            | Error::WrongEpoch(m)
            | Error::GroupState(m)
            | Error::Storage(m) => f.write_str(m),
            Error::Decryption => f.write_str("the message could not be decrypted"),
            Error::FileIntegrity => f.write_str("the encrypted file failed its integrity checks"),
            Error::Library(m) => write!(f, "internal error (please report): {m}"),
        }
    }
}

impl From<Error> for PyErr {
    fn from(e: Error) -> PyErr {
        let msg = e.to_string();
        match e {
            Error::Parse(_) => ParseError::new_err(msg),
            Error::UnsupportedCiphersuite(_) => UnsupportedCiphersuiteError::new_err(msg),
            Error::InvalidArgument(_) => InvalidArgumentError::new_err(msg),
            Error::Credential(_) => CredentialError::new_err(msg),
            Error::Validation(_) => ValidationError::new_err(msg),
            Error::InvalidSignature(_) => InvalidSignatureError::new_err(msg),
            Error::KeyPackageExpired(_) => KeyPackageExpiredError::new_err(msg),
            Error::WrongEpoch(_) => WrongEpochError::new_err(msg),
            Error::Decryption => DecryptionError::new_err(msg),
            Error::GroupState(_) => GroupStateError::new_err(msg),
            Error::Storage(_) => StorageError::new_err(msg),
            Error::FileIntegrity => FileIntegrityError::new_err(msg),
            Error::Library(_) => LibraryError::new_err(msg),
        }
    }
}

// ---------------------------------------------------------------------------------------
// Mapping OpenMLS errors
// ---------------------------------------------------------------------------------------

use openmls::prelude::{
    KeyPackageVerifyError, ProcessMessageError, ValidationError as MlsValidation,
};

/// Classify any OpenMLS error by its family: every OpenMLS error enum names its
/// library, storage and group-state variants the same way, and the rest are
/// validation failures of the input.
pub fn classify<E: std::fmt::Debug + std::fmt::Display>(e: E) -> Error {
    let debug = format!("{e:?}");
    let msg = e.to_string();
    if debug.contains("LibraryError") {
        Error::Library(msg)
    } else if debug.contains("UseAfterEviction") {
        Error::GroupState(format!("this member was removed from the group: {msg}"))
    } else if debug.contains("PendingCommit")
        || debug.contains("PendingProposal")
        || debug.contains("GroupStateError")
    {
        Error::GroupState(msg)
    } else if debug.starts_with("StorageError") || debug.contains("(StorageError") {
        Error::Storage(msg)
    } else if debug.contains("NoMatchingKeyPackage") {
        Error::Validation(format!(
            "the Welcome is not for any of this client's key packages: {msg}"
        ))
    } else if debug.contains("UnsupportedCiphersuite") || debug.contains("UnsupportedCipherSuite") {
        Error::UnsupportedCiphersuite(msg)
    } else if debug.contains("InvalidSignature") || debug.contains("InvalidMembershipTag") {
        Error::InvalidSignature(msg)
    } else if debug.contains("LifetimeError") || debug.contains("Lifetime") {
        Error::KeyPackageExpired(msg)
    } else if debug.contains("UnableToDecrypt")
        || debug.contains("DecryptionError")
        || debug.contains("AeadError")
    {
        Error::Decryption
    } else if debug.contains("MalformedMessage") || debug.contains("TlsCodec") {
        Error::Parse(msg)
    } else {
        Error::Validation(msg)
    }
}

pub fn map_kp_verify(e: KeyPackageVerifyError) -> Error {
    match e {
        KeyPackageVerifyError::InvalidSignature
        | KeyPackageVerifyError::InvalidLeafNodeSignature => {
            Error::InvalidSignature(format!("key package: {e}"))
        }
        KeyPackageVerifyError::LifetimeError(_) | KeyPackageVerifyError::MissingLifetime => {
            Error::KeyPackageExpired(format!("key package: {e}"))
        }
        KeyPackageVerifyError::LibraryError(_) => Error::Library(e.to_string()),
        other => Error::Validation(format!("key package: {other}")),
    }
}

pub fn map_process<S: std::fmt::Debug + std::fmt::Display>(e: ProcessMessageError<S>) -> Error {
    match e {
        ProcessMessageError::LibraryError(l) => Error::Library(l.to_string()),
        ProcessMessageError::StorageError(s) => Error::Storage(format!("{s:?}")),
        ProcessMessageError::GroupStateError(s) => classify(s),
        ProcessMessageError::ValidationError(v) => match v {
            MlsValidation::WrongEpoch => {
                Error::WrongEpoch("the message is for another epoch than the group's".into())
            }
            MlsValidation::UnableToDecrypt(_) => Error::Decryption,
            MlsValidation::NoPastEpochData => {
                Error::WrongEpoch("the message is for an epoch whose secrets are gone".into())
            }
            MlsValidation::InvalidSignature
            | MlsValidation::InvalidMembershipTag
            | MlsValidation::InvalidLeafNodeSignature => Error::InvalidSignature(v.to_string()),
            MlsValidation::KeyPackageVerifyError(k) => map_kp_verify(k),
            MlsValidation::LibraryError(l) => Error::Library(l.to_string()),
            other => Error::Validation(other.to_string()),
        },
        other => classify(other),
    }
}

// ---------------------------------------------------------------------------------------
// Panics at the binding boundary
// ---------------------------------------------------------------------------------------

/// Run `f`, turning a panic inside it into [`Error::Library`].
///
/// No panic should be reachable (clippy denies `unwrap`/`expect`; bad input is an error),
/// but one in OpenMLS or a dependency must not reach Python as `PanicException` (a
/// `BaseException` that `except Exception` misses) nor leave the client unusable. Every
/// store transaction runs inside this guard ([`crate::provider::Provider::atomic_keep`]
/// rolls back when it fires), and the binding's mutexes recover from poisoning
/// ([`relock`]), so the operation fails with `LibraryError` and the next one works.
pub fn guard<T, E: From<Error>>(
    f: impl FnOnce() -> std::result::Result<T, E>,
) -> std::result::Result<T, E> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(result) => result,
        Err(payload) => {
            let what = payload
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            Err(Error::Library(format!("a panic was caught: {what}")).into())
        }
    }
}

/// [`Python::detach`](pyo3::Python::detach) with [`guard`]: the GIL released, a panic
/// turned into `LibraryError`.
pub fn detach<T: Send, E: From<Error> + Send>(
    py: pyo3::Python<'_>,
    f: impl FnOnce() -> std::result::Result<T, E> + Send,
) -> std::result::Result<T, E> {
    py.detach(|| guard(f))
}

/// Lock `m`, recovering it if a panic poisoned it: whatever the panicking operation
/// left behind is rolled back or reloaded by the caller (the store's undo log, the
/// group reloaded from the store), so the data is usable.
pub fn relock<T: ?Sized>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| {
        m.clear_poison();
        poisoned.into_inner()
    })
}

impl From<crate::storage::StorageError> for Error {
    fn from(e: crate::storage::StorageError) -> Self {
        Error::Storage(e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use openmls::prelude::{
        KeyPackageVerifyError, MlsGroupStateError, ProcessMessageError,
        ValidationError as MlsValidation,
    };

    type Pme = ProcessMessageError<String>;

    #[test]
    fn process_errors_map_to_their_family() {
        assert!(matches!(
            map_process(Pme::ValidationError(MlsValidation::WrongEpoch)),
            Error::WrongEpoch(_)
        ));
        assert!(matches!(
            map_process(Pme::ValidationError(MlsValidation::InvalidSignature)),
            Error::InvalidSignature(_)
        ));
        assert!(matches!(
            map_process(Pme::ValidationError(MlsValidation::NoPastEpochData)),
            Error::WrongEpoch(_)
        ));
        assert!(matches!(
            map_process(Pme::ValidationError(MlsValidation::UnknownMember)),
            Error::Validation(_)
        ));
        assert!(matches!(
            map_process(Pme::GroupStateError(MlsGroupStateError::UseAfterEviction)),
            Error::GroupState(_)
        ));
        assert!(matches!(
            map_process(Pme::StorageError("disk".into())),
            Error::Storage(_)
        ));
        assert!(matches!(
            map_process(Pme::IncompatibleWireFormat),
            Error::Validation(_)
        ));
    }

    #[test]
    fn decryption_failures_say_nothing() {
        let e = Error::Decryption;
        assert_eq!(e.to_string(), "the message could not be decrypted");
    }

    #[test]
    fn key_package_errors() {
        assert!(matches!(
            map_kp_verify(KeyPackageVerifyError::InvalidSignature),
            Error::InvalidSignature(_)
        ));
        assert!(matches!(
            map_kp_verify(KeyPackageVerifyError::MissingLifetime),
            Error::KeyPackageExpired(_)
        ));
        assert!(matches!(
            map_kp_verify(KeyPackageVerifyError::InitKeyEqualsEncryptionKey),
            Error::Validation(_)
        ));
    }

    #[test]
    fn a_panic_becomes_a_library_error_and_a_lock_recovers() {
        let m = std::sync::Mutex::new(1);
        let r: Result<()> = guard(|| {
            let _held = m.lock();
            panic!("boom");
        });
        assert!(matches!(r, Err(Error::Library(ref msg)) if msg.contains("boom")));
        assert!(m.is_poisoned());
        assert_eq!(*relock(&m), 1);
        assert!(!m.is_poisoned());
        assert_eq!(guard(|| Ok::<_, Error>(5)), Ok(5));
    }

    #[test]
    fn classify_by_family() {
        assert!(matches!(
            classify(MlsGroupStateError::PendingCommit),
            Error::GroupState(_)
        ));
        assert!(matches!(
            classify(MlsGroupStateError::UseAfterEviction),
            Error::GroupState(_)
        ));
    }
}
