//! Key packages (RFC 9420 §10): parsing and validating received ones.
//! Generation lives on the client, which owns the private keys.

use crate::provider::Crypto;
use openmls::prelude::{
    KeyPackage as MlsKeyPackage, KeyPackageIn, MlsMessageBodyIn, MlsMessageIn, MlsMessageOut,
    ProtocolVersion,
};
use pyo3::prelude::*;
use pyo3::types::PyBytes;
use tls_codec::{Deserialize as _, Serialize as _};

use crate::credentials::Credential;
use crate::error::{detach, map_kp_verify, Error, Result};
use crate::types::{check_suite, py_suite, BytesIn};

/// A validated key package.
#[pyclass(frozen, module = "rcs_mls._native", name = "KeyPackage")]
#[derive(Clone)]
pub struct KeyPackage {
    pub inner: MlsKeyPackage,
}

/// Parse an MLSMessage (or a bare KeyPackage) and validate it: signatures, protocol
/// version, supported ciphersuite, lifetime.
pub fn parse_key_package(data: &[u8]) -> Result<MlsKeyPackage> {
    let kp_in = decode_key_package(data)?;
    let crypto = Crypto;
    let kp = kp_in
        .validate(&crypto, ProtocolVersion::Mls10)
        .map_err(map_kp_verify)?;
    check_suite(kp.ciphersuite())?;
    Ok(kp)
}

/// Decode, without validating, a key package sent as an MLSMessage or bare.
pub fn decode_key_package(data: &[u8]) -> Result<KeyPackageIn> {
    Ok(match MlsMessageIn::tls_deserialize_exact(data) {
        Ok(msg) => match msg.extract() {
            MlsMessageBodyIn::KeyPackage(kp) => kp,
            _ => {
                return Err(Error::Parse(
                    "the MLSMessage does not carry a KeyPackage".into(),
                ))
            }
        },
        Err(outer) => KeyPackageIn::tls_deserialize_exact(data)
            .map_err(|_| Error::Parse(format!("not a KeyPackage: {outer}")))?,
    })
}

impl KeyPackage {
    pub fn hash_ref_bytes(&self) -> Result<Vec<u8>> {
        let crypto = Crypto;
        self.inner
            .hash_ref(&crypto)
            .map(|r| r.as_slice().to_vec())
            .map_err(|e| Error::Library(e.to_string()))
    }
}

#[pymethods]
impl KeyPackage {
    /// Parse and validate a received key package (MLSMessage bytes).
    ///
    /// Raises ParseError, InvalidSignatureError, KeyPackageExpiredError,
    /// UnsupportedCiphersuiteError or ValidationError.
    #[staticmethod]
    fn from_bytes(py: Python<'_>, data: BytesIn) -> PyResult<Self> {
        let inner = detach(py, || parse_key_package(&data))?;
        Ok(Self { inner })
    }

    /// The key package as MLSMessage bytes, ready to send.
    fn to_bytes<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        let out: MlsMessageOut = self.inner.clone().into();
        let bytes = out.to_bytes().map_err(|e| Error::Library(e.to_string()))?;
        Ok(PyBytes::new(py, &bytes))
    }

    #[getter]
    fn ciphersuite(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        py_suite(py, self.inner.ciphersuite())
    }

    #[getter]
    fn credential(&self) -> Credential {
        Credential {
            inner: self.inner.leaf_node().credential().clone(),
        }
    }

    #[getter]
    fn identity<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        let id = Credential::identity_bytes(self.inner.leaf_node().credential())?;
        Ok(PyBytes::new(py, &id))
    }

    #[getter]
    fn signature_key<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, self.inner.leaf_node().signature_key().as_slice())
    }

    /// ``(not_before, not_after)`` in seconds since the Unix epoch.
    #[getter]
    fn lifetime(&self) -> (u64, u64) {
        let l = self.inner.life_time();
        (l.not_before(), l.not_after())
    }

    #[getter]
    fn last_resort(&self) -> bool {
        self.inner.last_resort()
    }

    /// The KeyPackageRef (RFC 9420 §5.2): the hash that names this key package.
    #[getter]
    fn hash_ref<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        Ok(PyBytes::new(py, &self.hash_ref_bytes()?))
    }

    /// The key package extensions as ``(type, data)`` pairs.
    #[getter]
    fn extensions(&self) -> PyResult<Vec<(u16, Vec<u8>)>> {
        crate::group::extensions_to_pairs(self.inner.extensions().iter())
    }

    fn __repr__(&self) -> String {
        let id =
            Credential::identity_bytes(self.inner.leaf_node().credential()).unwrap_or_default();
        format!(
            "KeyPackage(identity={:?}, ciphersuite=0x{:04x})",
            String::from_utf8_lossy(&id),
            u16::from(self.inner.ciphersuite())
        )
    }

    fn __eq__(&self, other: &Self) -> bool {
        self.inner.tls_serialize_detached().ok() == other.inner.tls_serialize_detached().ok()
    }
}
