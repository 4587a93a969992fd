//! Signature key pairs and credentials (RFC 9420 §5.3): basic and X.509.

use openmls::prelude::{BasicCredential, Credential as MlsCredential, CredentialType};
use openmls_traits::signatures::{Signer, SignerError};
use openmls_traits::types::SignatureScheme;
use pyo3::prelude::*;
use pyo3::types::PyBytes;
use std::sync::{Arc, OnceLock};
use tls_codec::{Deserialize as _, Serialize as _, VLBytes};
use x509_cert::der::Decode as _;
use zeroize::Zeroizing;

use crate::crypto::{self, ParsedSigningKey};
use crate::error::{Error, Result};
use crate::types::{scheme_name, suite_from_u16, BytesIn};

/// The signing key OpenMLS uses: raw private and public key, signing through AWS-LC.
/// The key is parsed (and its halves checked against each other) on first use, then kept.
pub struct SigningKey {
    scheme: SignatureScheme,
    private: Zeroizing<Vec<u8>>,
    public: Vec<u8>,
    parsed: OnceLock<ParsedSigningKey>,
}

impl SigningKey {
    pub fn from_raw(scheme: SignatureScheme, private: Vec<u8>, public: Vec<u8>) -> Self {
        Self {
            scheme,
            private: Zeroizing::new(private),
            public,
            parsed: OnceLock::new(),
        }
    }

    pub fn generate(scheme: SignatureScheme) -> Result<Self> {
        use openmls_traits::crypto::OpenMlsCrypto as _;
        let (private, public) = crypto::AwsLcCrypto
            .signature_key_gen(scheme)
            .map_err(|e| Error::Library(format!("key generation failed: {e:?}")))?;
        Ok(Self::from_raw(scheme, private, public))
    }

    pub fn public(&self) -> &[u8] {
        &self.public
    }

    pub fn private(&self) -> &[u8] {
        &self.private
    }

    pub fn signature_scheme(&self) -> SignatureScheme {
        self.scheme
    }

    fn parsed(&self) -> std::result::Result<&ParsedSigningKey, SignerError> {
        if let Some(k) = self.parsed.get() {
            return Ok(k);
        }
        let k = ParsedSigningKey::new(self.scheme, &self.private, Some(&self.public))
            .map_err(|_| SignerError::SigningError)?;
        // Another thread may have won the race: either parse is the same key.
        Ok(self.parsed.get_or_init(|| k))
    }
}

impl Signer for SigningKey {
    fn sign(&self, payload: &[u8]) -> std::result::Result<Vec<u8>, SignerError> {
        self.parsed()?
            .sign(payload)
            .map_err(|_| SignerError::SigningError)
    }

    fn signature_scheme(&self) -> SignatureScheme {
        self.scheme
    }
}

/// A signature key pair for one ciphersuite's signature scheme.
#[pyclass(frozen, module = "rcs_mls._native", name = "SignatureKeyPair")]
pub struct SignatureKeyPair {
    pub inner: Arc<SigningKey>,
}

fn derive_public(scheme: SignatureScheme, private: &[u8]) -> Result<Vec<u8>> {
    match scheme {
        SignatureScheme::ED25519 => {
            if private.len() != 32 {
                return Err(Error::InvalidArgument(
                    "an Ed25519 private key is 32 bytes".into(),
                ));
            }
            crypto::signature_public_key(scheme, private)
                .map_err(|_| Error::InvalidArgument("not a valid Ed25519 private key".into()))
        }
        SignatureScheme::ECDSA_SECP256R1_SHA256 => {
            if private.len() != 32 {
                return Err(Error::InvalidArgument(
                    "a P-256 private key is a 32-byte big-endian scalar".into(),
                ));
            }
            crypto::signature_public_key(scheme, private)
                .map_err(|_| Error::InvalidArgument("not a valid P-256 private scalar".into()))
        }
        other => Err(Error::UnsupportedCiphersuite(format!(
            "signature scheme {} is not supported",
            scheme_name(other)
        ))),
    }
}

fn scheme_from_u16(v: u16) -> Result<SignatureScheme> {
    match v {
        0x0807 => Ok(SignatureScheme::ED25519),
        0x0403 => Ok(SignatureScheme::ECDSA_SECP256R1_SHA256),
        other => Err(Error::Parse(format!(
            "unsupported signature scheme 0x{other:04x}"
        ))),
    }
}

impl SignatureKeyPair {
    pub fn scheme(&self) -> SignatureScheme {
        self.inner.signature_scheme()
    }

    /// Decode the :meth:`to_bytes` form (scheme, private key, public key).
    pub fn from_stored(data: &[u8]) -> Result<Self> {
        let mut rest: &[u8] = data;
        let err = |e: tls_codec::Error| Error::Parse(format!("signature key pair: {e}"));
        let scheme = u16::tls_deserialize(&mut rest).map_err(err)?;
        let private = VLBytes::tls_deserialize(&mut rest).map_err(err)?;
        let public = VLBytes::tls_deserialize(&mut rest).map_err(err)?;
        if !rest.is_empty() {
            return Err(Error::Parse("signature key pair: trailing bytes".into()));
        }
        let scheme = scheme_from_u16(scheme)?;
        let derived = derive_public(scheme, private.as_slice())
            .map_err(|e| Error::Parse(format!("signature key pair: {e}")))?;
        if derived != public.as_slice() {
            return Err(Error::Parse(
                "signature key pair: the public key does not match the private key".into(),
            ));
        }
        Ok(Self {
            inner: Arc::new(SigningKey::from_raw(
                scheme,
                private.as_slice().to_vec(),
                derived,
            )),
        })
    }

    /// The :meth:`to_bytes` form.
    pub fn export(&self) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        let scheme: u16 = self.scheme() as u16;
        scheme
            .tls_serialize(&mut out)
            .and_then(|_| VLBytes::from(self.inner.private()).tls_serialize(&mut out))
            .and_then(|_| VLBytes::from(self.inner.public()).tls_serialize(&mut out))
            .map_err(|e| Error::Library(e.to_string()))?;
        Ok(out)
    }
}

#[pymethods]
impl SignatureKeyPair {
    /// Generate a fresh key pair for the signature scheme of `ciphersuite`.
    #[staticmethod]
    fn generate(ciphersuite: u16) -> PyResult<Self> {
        let suite = suite_from_u16(ciphersuite)?;
        let kp = SigningKey::generate(suite.signature_algorithm())?;
        Ok(Self {
            inner: Arc::new(kp),
        })
    }

    /// Import a private key (Ed25519: 32-byte seed; P-256: 32-byte big-endian scalar);
    /// the public key is derived from it.
    #[staticmethod]
    fn from_private_bytes(ciphersuite: u16, private_key: BytesIn) -> PyResult<Self> {
        let suite = suite_from_u16(ciphersuite)?;
        let scheme = suite.signature_algorithm();
        let public = derive_public(scheme, &private_key)?;
        Ok(Self {
            inner: Arc::new(SigningKey::from_raw(scheme, private_key.to_vec(), public)),
        })
    }

    /// Decode a key pair exported with :meth:`to_bytes`.
    #[staticmethod]
    fn from_bytes(data: BytesIn) -> PyResult<Self> {
        Ok(Self::from_stored(&data)?)
    }

    /// Export the key pair (scheme, private key, public key) for a key vault.
    fn to_bytes<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        Ok(PyBytes::new(py, &self.export()?))
    }

    /// The raw private key.
    fn private_bytes<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, self.inner.private())
    }

    /// The raw public key (Ed25519: 32 bytes; P-256: the 65-byte uncompressed point).
    #[getter]
    fn public_key<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, self.inner.public())
    }

    /// The signature scheme's RFC 8446 name, e.g. ``"ed25519"``.
    #[getter]
    fn signature_scheme(&self) -> &'static str {
        scheme_name(self.scheme())
    }

    fn __repr__(&self) -> String {
        format!(
            "SignatureKeyPair(scheme={}, public_key={})",
            scheme_name(self.scheme()),
            hex(self.inner.public())
        )
    }
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A member credential: basic (an identity) or X.509 (a certificate chain, leaf first).
#[pyclass(frozen, eq, module = "rcs_mls._native", name = "Credential")]
#[derive(Clone, PartialEq)]
pub struct Credential {
    pub inner: MlsCredential,
}

/// Split an X.509 credential's content into its DER certificates.
pub fn x509_chain(credential: &MlsCredential) -> Result<Vec<Vec<u8>>> {
    let mut rest = credential.serialized_content();
    let mut certs = Vec::new();
    while !rest.is_empty() {
        let cert = VLBytes::tls_deserialize(&mut rest)
            .map_err(|e| Error::Parse(format!("X.509 credential: {e}")))?;
        certs.push(cert.as_slice().to_vec());
    }
    Ok(certs)
}

/// The raw public key in a DER certificate's SubjectPublicKeyInfo.
pub fn certificate_public_key(der: &[u8]) -> Result<Vec<u8>> {
    let cert = x509_cert::Certificate::from_der(der)
        .map_err(|e| Error::Credential(format!("malformed X.509 certificate: {e}")))?;
    let spki = &cert.tbs_certificate.subject_public_key_info;
    spki.subject_public_key
        .as_bytes()
        .map(|b| b.to_vec())
        .ok_or_else(|| Error::Credential("certificate key is not a whole number of bytes".into()))
}

/// The identity of a certificate: its first URI subjectAltName (RCS: `tel:+E164`), else
/// its subject DN.
pub fn certificate_identity(der: &[u8]) -> Result<Vec<u8>> {
    use x509_cert::ext::pkix::name::GeneralName;
    use x509_cert::ext::pkix::SubjectAltName;
    let cert = x509_cert::Certificate::from_der(der)
        .map_err(|e| Error::Credential(format!("malformed X.509 certificate: {e}")))?;
    if let Ok(Some((_, san))) = cert.tbs_certificate.get::<SubjectAltName>() {
        for name in san.0.iter() {
            if let GeneralName::UniformResourceIdentifier(uri) = name {
                return Ok(uri.as_str().as_bytes().to_vec());
            }
        }
    }
    Ok(cert.tbs_certificate.subject.to_string().into_bytes())
}

impl Credential {
    /// The identity: the basic credential's bytes, or the X.509 leaf's identity.
    pub fn identity_bytes(credential: &MlsCredential) -> Result<Vec<u8>> {
        match credential.credential_type() {
            CredentialType::Basic => BasicCredential::try_from(credential.clone())
                .map(|b| b.identity().to_vec())
                .map_err(|e| Error::Parse(format!("basic credential: {e}"))),
            CredentialType::X509 => {
                let chain = x509_chain(credential)?;
                let leaf = chain
                    .first()
                    .ok_or_else(|| Error::Credential("empty X.509 certificate chain".into()))?;
                certificate_identity(leaf)
            }
            _ => Ok(credential.serialized_content().to_vec()),
        }
    }

    /// Check that the credential may be used with `public_key`: for X.509 the leaf's
    /// key must be that key.
    pub fn check_key(&self, public_key: &[u8]) -> Result<()> {
        if self.inner.credential_type() == CredentialType::X509 {
            let chain = x509_chain(&self.inner)?;
            let leaf = chain
                .first()
                .ok_or_else(|| Error::Credential("empty X.509 certificate chain".into()))?;
            if certificate_public_key(leaf)? != public_key {
                return Err(Error::Credential(
                    "the X.509 leaf certificate's key is not the signature key".into(),
                ));
            }
        }
        Ok(())
    }
}

pub fn credential_type_name(t: CredentialType) -> String {
    match t {
        CredentialType::Basic => "basic".into(),
        CredentialType::X509 => "x509".into(),
        other => format!("0x{:04x}", u16::from(other)),
    }
}

#[pymethods]
impl Credential {
    /// A basic credential carrying `identity`.
    #[staticmethod]
    fn basic(identity: BytesIn) -> Self {
        Self {
            inner: BasicCredential::new(identity.to_vec()).into(),
        }
    }

    /// An X.509 credential from a DER certificate chain, leaf first.
    #[staticmethod]
    fn x509(chain: Vec<BytesIn>) -> PyResult<Self> {
        if chain.is_empty() {
            return Err(Error::Credential(
                "an X.509 credential needs at least one certificate".into(),
            )
            .into());
        }
        let mut content = Vec::new();
        for der in &chain {
            x509_cert::Certificate::from_der(der)
                .map_err(|e| Error::Credential(format!("malformed X.509 certificate: {e}")))?;
            VLBytes::from(der.to_vec())
                .tls_serialize(&mut content)
                .map_err(|e| Error::Library(e.to_string()))?;
        }
        Ok(Self {
            inner: MlsCredential::new(CredentialType::X509, content),
        })
    }

    /// Decode a TLS-encoded Credential (RFC 9420 §5.3).
    #[staticmethod]
    fn from_bytes(data: BytesIn) -> PyResult<Self> {
        let inner = MlsCredential::tls_deserialize_exact(&*data)
            .map_err(|e| Error::Parse(format!("credential: {e}")))?;
        Ok(Self { inner })
    }

    fn to_bytes<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        let bytes = self
            .inner
            .tls_serialize_detached()
            .map_err(|e| Error::Library(e.to_string()))?;
        Ok(PyBytes::new(py, &bytes))
    }

    /// ``"basic"``, ``"x509"``, or the hex code point of another type.
    #[getter]
    fn credential_type(&self) -> String {
        credential_type_name(self.inner.credential_type())
    }

    /// The identity bytes (X.509: the leaf's first URI subjectAltName, e.g. ``tel:+1...``).
    #[getter]
    fn identity<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        Ok(PyBytes::new(py, &Self::identity_bytes(&self.inner)?))
    }

    /// The DER certificate chain, leaf first (empty for a basic credential).
    #[getter]
    fn certificates<'py>(&self, py: Python<'py>) -> PyResult<Vec<Bound<'py, PyBytes>>> {
        if self.inner.credential_type() != CredentialType::X509 {
            return Ok(Vec::new());
        }
        Ok(x509_chain(&self.inner)?
            .iter()
            .map(|c| PyBytes::new(py, c))
            .collect())
    }

    fn __hash__(&self) -> u64 {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        self.inner.serialized_content().hash(&mut h);
        h.finish()
    }

    fn __repr__(&self) -> String {
        let id = Self::identity_bytes(&self.inner).unwrap_or_default();
        format!(
            "Credential(type={}, identity={:?})",
            credential_type_name(self.inner.credential_type()),
            String::from_utf8_lossy(&id)
        )
    }
}
