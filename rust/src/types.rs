//! Small shared conversions: ciphersuites, bytes-like input, time.

use openmls::prelude::{Ciphersuite, SignatureScheme};
use pyo3::prelude::*;
use pyo3::pybacked::PyBackedBytes;
use pyo3::types::PyBytes;

use crate::error::{Error, Result};

/// The ciphersuites this package implements (through [`crate::crypto`], on AWS-LC).
pub const SUPPORTED_SUITES: [u16; 3] = [0x0001, 0x0002, 0x0003];

pub fn suite_from_u16(value: u16) -> Result<Ciphersuite> {
    match value {
        0x0001 => Ok(Ciphersuite::MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519),
        0x0002 => Ok(Ciphersuite::MLS_128_DHKEMP256_AES128GCM_SHA256_P256),
        0x0003 => Ok(Ciphersuite::MLS_128_DHKEMX25519_CHACHA20POLY1305_SHA256_Ed25519),
        other => Err(Error::UnsupportedCiphersuite(format!(
            "ciphersuite 0x{other:04x} is not supported (supported: 0x0001, 0x0002, 0x0003)"
        ))),
    }
}

pub fn suite_to_u16(suite: Ciphersuite) -> u16 {
    suite.into()
}

/// Check that a suite received from the wire is one we implement.
pub fn check_suite(suite: Ciphersuite) -> Result<Ciphersuite> {
    suite_from_u16(suite_to_u16(suite))
}

pub fn scheme_name(scheme: SignatureScheme) -> &'static str {
    match scheme {
        SignatureScheme::ED25519 => "ed25519",
        SignatureScheme::ECDSA_SECP256R1_SHA256 => "ecdsa_secp256r1_sha256",
        SignatureScheme::ECDSA_SECP384R1_SHA384 => "ecdsa_secp384r1_sha384",
        SignatureScheme::ECDSA_SECP521R1_SHA512 => "ecdsa_secp521r1_sha512",
        SignatureScheme::ED448 => "ed448",
    }
}

/// The Python `rcs_mls.Ciphersuite` enum member for a suite.
pub fn py_suite(py: Python<'_>, suite: Ciphersuite) -> PyResult<Py<PyAny>> {
    let module = py.import("rcs_mls._types")?;
    let cls = module.getattr("Ciphersuite")?;
    Ok(cls.call1((suite_to_u16(suite),))?.unbind())
}

/// Any bytes-like argument: `bytes` and `bytearray` directly, anything else that
/// supports the buffer protocol (`memoryview`, ...) through `bytes(obj)`.
pub struct BytesIn(pub PyBackedBytes);

impl<'a, 'py> FromPyObject<'a, 'py> for BytesIn {
    type Error = PyErr;

    fn extract(obj: Borrowed<'a, 'py, PyAny>) -> std::result::Result<Self, Self::Error> {
        if let Ok(b) = obj.extract::<PyBackedBytes>() {
            return Ok(BytesIn(b));
        }
        if obj.is_instance_of::<pyo3::types::PyString>() {
            return Err(pyo3::exceptions::PyTypeError::new_err(
                "expected a bytes-like object, not str",
            ));
        }
        let py = obj.py();
        let converted = py
            .import("builtins")?
            .getattr("bytes")?
            .call1((obj,))
            .map_err(|_| {
                pyo3::exceptions::PyTypeError::new_err(format!(
                    "expected a bytes-like object, not {}",
                    obj.get_type()
                        .name()
                        .map(|n| n.to_string())
                        .unwrap_or_default()
                ))
            })?;
        let bytes = converted.cast_into::<PyBytes>()?;
        Ok(BytesIn(PyBackedBytes::from(bytes)))
    }
}

impl std::ops::Deref for BytesIn {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.0
    }
}
