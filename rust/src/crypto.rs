//! The crypto provider: OpenMLS's `OpenMlsCrypto` and `OpenMlsRand` on aws-lc-rs (AWS-LC).
//!
//! Suites 0x0001, 0x0002 and 0x0003. Every primitive is AWS-LC's: SHA-2, HMAC, HKDF-Expand,
//! AES-GCM, ChaCha20-Poly1305, ECDSA-P256-SHA256, Ed25519, ECDH over P-256 and X25519,
//! and its DRBG. What is composed here follows the RFCs to the letter:
//!
//! - HKDF-Extract is `HMAC-Hash(salt, IKM)` (RFC 5869 §2.2), because aws-lc-rs keeps the
//!   extracted PRK inside its own type while OpenMLS needs its bytes.
//! - HPKE (RFC 9180) is `hpke-rs`'s composition (the one `openmls_rust_crypto` uses) over
//!   [`crate::hpke::AwsLcHpke`], its crypto trait implemented on AWS-LC.
//!
//! Key encodings are those `openmls_rust_crypto` writes, so state stored under one
//! provider is read under the other: a P-256 private key is the 32-byte big-endian
//! scalar, a public key the 65-byte uncompressed SEC1 point; Ed25519 and X25519 keys are
//! their raw 32 bytes. ECDSA signatures are DER (RFC 9420 §5.1.2).

use aws_lc_rs::encoding::{AsBigEndian, Curve25519SeedBin, EcPrivateKeyBin};
use aws_lc_rs::signature::{
    EcdsaKeyPair, Ed25519KeyPair, KeyPair as _, UnparsedPublicKey, ECDSA_P256_SHA256_ASN1,
    ECDSA_P256_SHA256_ASN1_SIGNING, ED25519,
};
use aws_lc_rs::{aead, agreement, digest, hkdf, hmac, rand};
use hpke_rs::{Hpke, HpkeError, Mode};
use hpke_rs_crypto::types::{AeadAlgorithm, KdfAlgorithm, KemAlgorithm};
use openmls_traits::crypto::OpenMlsCrypto;
use openmls_traits::random::OpenMlsRand;
use openmls_traits::types::{
    AeadType, Ciphersuite, CryptoError, ExporterSecret, HashType, HpkeAeadType, HpkeCiphertext,
    HpkeConfig, HpkeKdfType, HpkeKemType, HpkeKeyPair, KemOutput, SignatureScheme,
};
use tls_codec::SecretVLBytes;

pub use crate::credentials::SigningKey;
use crate::hpke::AwsLcHpke;

/// The three ciphersuites this provider implements.
const SUITES: [Ciphersuite; 3] = [
    Ciphersuite::MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519,
    Ciphersuite::MLS_128_DHKEMP256_AES128GCM_SHA256_P256,
    Ciphersuite::MLS_128_DHKEMX25519_CHACHA20POLY1305_SHA256_Ed25519,
];

/// Length of a P-256 scalar, and of an uncompressed SEC1 point.
pub(crate) const P256_SCALAR_LEN: usize = 32;
pub(crate) const P256_POINT_LEN: usize = 65;

/// OpenMLS's crypto and randomness on AWS-LC. Stateless: AWS-LC keeps its DRBG per thread.
#[derive(Debug, Default, Clone, Copy)]
pub struct AwsLcCrypto;

// ---------------------------------------------------------------------------------------
// Shared primitives (also used by the HPKE trait and by file encryption)
// ---------------------------------------------------------------------------------------

/// A failed primitive: the caller maps it to its own error type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fail {
    /// A key, nonce or length is not acceptable for the algorithm.
    Input,
    /// Authentication failed (AEAD open, signature).
    Auth,
}

fn hmac_alg(hash: HashType) -> hmac::Algorithm {
    match hash {
        HashType::Sha2_256 => hmac::HMAC_SHA256,
        HashType::Sha2_384 => hmac::HMAC_SHA384,
        HashType::Sha2_512 => hmac::HMAC_SHA512,
    }
}

fn hkdf_alg(hash: HashType) -> hkdf::Algorithm {
    match hash {
        HashType::Sha2_256 => hkdf::HKDF_SHA256,
        HashType::Sha2_384 => hkdf::HKDF_SHA384,
        HashType::Sha2_512 => hkdf::HKDF_SHA512,
    }
}

fn digest_alg(hash: HashType) -> &'static digest::Algorithm {
    match hash {
        HashType::Sha2_256 => &digest::SHA256,
        HashType::Sha2_384 => &digest::SHA384,
        HashType::Sha2_512 => &digest::SHA512,
    }
}

/// HMAC-Hash(key, message).
pub(crate) fn hmac(hash: HashType, key: &[u8], message: &[u8]) -> Vec<u8> {
    let key = hmac::Key::new(hmac_alg(hash), key);
    hmac::sign(&key, message).as_ref().to_vec()
}

/// HKDF-Extract(salt, IKM) = HMAC-Hash(salt, IKM) (RFC 5869 §2.2). An empty salt is
/// HashLen zero bytes, which HMAC pads to the same block as the empty key.
pub(crate) fn hkdf_extract(hash: HashType, salt: &[u8], ikm: &[u8]) -> Vec<u8> {
    hmac(hash, salt, ikm)
}

/// An HKDF output length for aws-lc-rs.
struct OkmLen(usize);

impl hkdf::KeyType for OkmLen {
    fn len(&self) -> usize {
        self.0
    }
}

/// HKDF-Expand(PRK, info, L) (RFC 5869 §2.3). The PRK is at least HashLen bytes, as
/// RFC 5869 asks (and as `openmls_rust_crypto` enforces); L is at most 255 HashLen.
pub(crate) fn hkdf_expand(
    hash: HashType,
    prk: &[u8],
    info: &[u8],
    len: usize,
) -> Result<Vec<u8>, Fail> {
    let hash_len = hash.size();
    if prk.len() < hash_len || prk.len() > digest::MAX_OUTPUT_LEN || len > 255 * hash_len {
        return Err(Fail::Input);
    }
    let mut out = vec![0u8; len];
    if len == 0 {
        return Ok(out);
    }
    // `new_less_safe` panics only on a PRK longer than digest::MAX_OUTPUT_LEN, refused above.
    let prk = hkdf::Prk::new_less_safe(hkdf_alg(hash), prk);
    let info = [info];
    prk.expand(&info, OkmLen(len))
        .and_then(|okm| okm.fill(&mut out))
        .map_err(|_| Fail::Input)?;
    Ok(out)
}

pub(crate) fn hash(hash: HashType, data: &[u8]) -> Vec<u8> {
    digest::digest(digest_alg(hash), data).as_ref().to_vec()
}

fn aead_alg(alg: AeadType) -> &'static aead::Algorithm {
    match alg {
        AeadType::Aes128Gcm => &aead::AES_128_GCM,
        AeadType::Aes256Gcm => &aead::AES_256_GCM,
        AeadType::ChaCha20Poly1305 => &aead::CHACHA20_POLY1305,
    }
}

fn aead_key(
    alg: AeadType,
    key: &[u8],
    nonce: &[u8],
) -> Result<(aead::LessSafeKey, aead::Nonce), Fail> {
    let key = aead::UnboundKey::new(aead_alg(alg), key).map_err(|_| Fail::Input)?;
    let nonce = aead::Nonce::try_assume_unique_for_key(nonce).map_err(|_| Fail::Input)?;
    Ok((aead::LessSafeKey::new(key), nonce))
}

/// AEAD seal: ciphertext ‖ tag.
pub(crate) fn aead_seal(
    alg: AeadType,
    key: &[u8],
    nonce: &[u8],
    aad: &[u8],
    plaintext: &[u8],
) -> Result<Vec<u8>, Fail> {
    let (key, nonce) = aead_key(alg, key, nonce)?;
    let mut out = Vec::with_capacity(plaintext.len() + alg.tag_size());
    out.extend_from_slice(plaintext);
    key.seal_in_place_append_tag(nonce, aead::Aad::from(aad), &mut out)
        .map_err(|_| Fail::Input)?;
    Ok(out)
}

/// AEAD open of ciphertext ‖ tag.
pub(crate) fn aead_open(
    alg: AeadType,
    key: &[u8],
    nonce: &[u8],
    aad: &[u8],
    ct_tag: &[u8],
) -> Result<Vec<u8>, Fail> {
    let (key, nonce) = aead_key(alg, key, nonce)?;
    if ct_tag.len() < alg.tag_size() {
        return Err(Fail::Auth);
    }
    let mut buf = ct_tag.to_vec();
    let len = key
        .open_in_place(nonce, aead::Aad::from(aad), &mut buf)
        .map_err(|_| Fail::Auth)?
        .len();
    buf.truncate(len);
    Ok(buf)
}

/// Fill `out` from AWS-LC's DRBG.
pub(crate) fn fill_random(out: &mut [u8]) -> Result<(), Fail> {
    rand::fill(out).map_err(|_| Fail::Input)
}

/// Is `pk` an uncompressed SEC1 P-256 point by its form (curve membership is AWS-LC's
/// check)? RFC 9420 §5.1.1 and RFC 9180 §7.1.1 both use this one encoding; refusing
/// others keeps aws-lc-rs from accepting, say, a DER SubjectPublicKeyInfo.
pub(crate) fn is_sec1_uncompressed(pk: &[u8]) -> bool {
    pk.len() == P256_POINT_LEN && pk[0] == 0x04
}

// ---------------------------------------------------------------------------------------
// Signatures
// ---------------------------------------------------------------------------------------

/// A parsed signing key: parse once, sign many times (a P-256 key is validated with a
/// scalar multiplication, which costs about as much as a signature).
pub enum ParsedSigningKey {
    Ecdsa(EcdsaKeyPair),
    Ed25519(Ed25519KeyPair),
}

impl std::fmt::Debug for ParsedSigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Ecdsa(_) => "ParsedSigningKey::Ecdsa",
            Self::Ed25519(_) => "ParsedSigningKey::Ed25519",
        })
    }
}

impl ParsedSigningKey {
    /// Parse a private key; `public`, when given, must be its public key.
    pub fn new(
        scheme: SignatureScheme,
        private: &[u8],
        public: Option<&[u8]>,
    ) -> Result<Self, CryptoError> {
        match scheme {
            SignatureScheme::ECDSA_SECP256R1_SHA256 => {
                if private.len() != P256_SCALAR_LEN {
                    return Err(CryptoError::InvalidLength);
                }
                let derived;
                let public = match public {
                    Some(p) => p,
                    None => {
                        derived = p256_public_from_scalar(private)?;
                        &derived
                    }
                };
                if !is_sec1_uncompressed(public) {
                    return Err(CryptoError::InvalidPublicKey);
                }
                EcdsaKeyPair::from_private_key_and_public_key(
                    &ECDSA_P256_SHA256_ASN1_SIGNING,
                    private,
                    public,
                )
                .map(Self::Ecdsa)
                .map_err(|_| CryptoError::CryptoLibraryError)
            }
            SignatureScheme::ED25519 => {
                if private.len() != 32 {
                    return Err(CryptoError::InvalidLength);
                }
                match public {
                    Some(p) => Ed25519KeyPair::from_seed_and_public_key(private, p),
                    None => Ed25519KeyPair::from_seed_unchecked(private),
                }
                .map(Self::Ed25519)
                .map_err(|_| CryptoError::CryptoLibraryError)
            }
            _ => Err(CryptoError::UnsupportedSignatureScheme),
        }
    }

    pub fn sign(&self, data: &[u8]) -> Result<Vec<u8>, CryptoError> {
        match self {
            Self::Ecdsa(k) => k
                .sign(&rand::SystemRandom::new(), data)
                .map(|s| s.as_ref().to_vec())
                .map_err(|_| CryptoError::CryptoLibraryError),
            Self::Ed25519(k) => k
                .try_sign(data)
                .map(|s| s.as_ref().to_vec())
                .map_err(|_| CryptoError::CryptoLibraryError),
        }
    }

    /// The public key: uncompressed SEC1 point, or raw Ed25519 key.
    pub fn public_key(&self) -> Vec<u8> {
        match self {
            Self::Ecdsa(k) => k.public_key().as_ref().to_vec(),
            Self::Ed25519(k) => k.public_key().as_ref().to_vec(),
        }
    }
}

/// The uncompressed public point of a P-256 scalar (refused unless in [1, n-1]).
pub(crate) fn p256_public_from_scalar(scalar: &[u8]) -> Result<Vec<u8>, CryptoError> {
    let sk = agreement::PrivateKey::from_private_key(&agreement::ECDH_P256, scalar)
        .map_err(|_| CryptoError::InvalidLength)?;
    sk.compute_public_key()
        .map(|pk| pk.as_ref().to_vec())
        .map_err(|_| CryptoError::CryptoLibraryError)
}

/// The public key of a signature private key (see [`ParsedSigningKey::public_key`]).
pub fn signature_public_key(
    scheme: SignatureScheme,
    private: &[u8],
) -> Result<Vec<u8>, CryptoError> {
    ParsedSigningKey::new(scheme, private, None).map(|k| k.public_key())
}

fn verify_signature(
    scheme: SignatureScheme,
    data: &[u8],
    pk: &[u8],
    signature: &[u8],
) -> Result<(), CryptoError> {
    match scheme {
        SignatureScheme::ECDSA_SECP256R1_SHA256 => {
            if !is_sec1_uncompressed(pk) {
                return Err(CryptoError::CryptoLibraryError);
            }
            UnparsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, pk)
                .verify(data, signature)
                .map_err(|_| CryptoError::InvalidSignature)
        }
        SignatureScheme::ED25519 => {
            if pk.len() != 32 || signature.len() != 64 {
                return Err(CryptoError::CryptoLibraryError);
            }
            UnparsedPublicKey::new(&ED25519, pk)
                .verify(data, signature)
                .map_err(|_| CryptoError::InvalidSignature)
        }
        _ => Err(CryptoError::UnsupportedSignatureScheme),
    }
}

fn signature_key_gen(scheme: SignatureScheme) -> Result<(Vec<u8>, Vec<u8>), CryptoError> {
    match scheme {
        SignatureScheme::ECDSA_SECP256R1_SHA256 => {
            let k = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_ASN1_SIGNING)
                .map_err(|_| CryptoError::CryptoLibraryError)?;
            let private: EcPrivateKeyBin = k
                .private_key()
                .as_be_bytes()
                .map_err(|_| CryptoError::CryptoLibraryError)?;
            Ok((private.as_ref().to_vec(), k.public_key().as_ref().to_vec()))
        }
        SignatureScheme::ED25519 => {
            let k = Ed25519KeyPair::generate().map_err(|_| CryptoError::CryptoLibraryError)?;
            let seed: Curve25519SeedBin = k
                .seed()
                .and_then(|s| s.as_be_bytes())
                .map_err(|_| CryptoError::CryptoLibraryError)?;
            Ok((seed.as_ref().to_vec(), k.public_key().as_ref().to_vec()))
        }
        _ => Err(CryptoError::UnsupportedSignatureScheme),
    }
}

// ---------------------------------------------------------------------------------------
// HPKE
// ---------------------------------------------------------------------------------------

fn hpke(config: HpkeConfig) -> Result<Hpke<AwsLcHpke>, CryptoError> {
    let kem = match config.0 {
        HpkeKemType::DhKemP256 => KemAlgorithm::DhKemP256,
        HpkeKemType::DhKem25519 => KemAlgorithm::DhKem25519,
        _ => return Err(CryptoError::UnsupportedCiphersuite),
    };
    let kdf = match config.1 {
        HpkeKdfType::HkdfSha256 => KdfAlgorithm::HkdfSha256,
        HpkeKdfType::HkdfSha384 => KdfAlgorithm::HkdfSha384,
        HpkeKdfType::HkdfSha512 => KdfAlgorithm::HkdfSha512,
    };
    let aead = match config.2 {
        HpkeAeadType::AesGcm128 => AeadAlgorithm::Aes128Gcm,
        HpkeAeadType::AesGcm256 => AeadAlgorithm::Aes256Gcm,
        HpkeAeadType::ChaCha20Poly1305 => AeadAlgorithm::ChaCha20Poly1305,
        HpkeAeadType::Export => AeadAlgorithm::HpkeExport,
    };
    Ok(Hpke::new(Mode::Base, kem, kdf, aead))
}

fn hpke_input_error(e: HpkeError) -> CryptoError {
    match e {
        HpkeError::InvalidInput => CryptoError::InvalidLength,
        HpkeError::InsufficientRandomness => CryptoError::InsufficientRandomness,
        _ => CryptoError::CryptoLibraryError,
    }
}

// ---------------------------------------------------------------------------------------
// The OpenMLS traits
// ---------------------------------------------------------------------------------------

fn hkdf_error(_: Fail) -> CryptoError {
    CryptoError::HkdfOutputLengthInvalid
}

impl OpenMlsCrypto for AwsLcCrypto {
    fn supports(&self, ciphersuite: Ciphersuite) -> Result<(), CryptoError> {
        if SUITES.contains(&ciphersuite) {
            Ok(())
        } else {
            Err(CryptoError::UnsupportedCiphersuite)
        }
    }

    fn supported_ciphersuites(&self) -> Vec<Ciphersuite> {
        SUITES.to_vec()
    }

    fn hkdf_extract(
        &self,
        hash_type: HashType,
        salt: &[u8],
        ikm: &[u8],
    ) -> Result<SecretVLBytes, CryptoError> {
        Ok(hkdf_extract(hash_type, salt, ikm).into())
    }

    fn hmac(
        &self,
        hash_type: HashType,
        key: &[u8],
        message: &[u8],
    ) -> Result<SecretVLBytes, CryptoError> {
        Ok(hmac(hash_type, key, message).into())
    }

    fn hkdf_expand(
        &self,
        hash_type: HashType,
        prk: &[u8],
        info: &[u8],
        okm_len: usize,
    ) -> Result<SecretVLBytes, CryptoError> {
        hkdf_expand(hash_type, prk, info, okm_len)
            .map(Into::into)
            .map_err(hkdf_error)
    }

    fn hash(&self, hash_type: HashType, data: &[u8]) -> Result<Vec<u8>, CryptoError> {
        Ok(hash(hash_type, data))
    }

    fn aead_encrypt(
        &self,
        alg: AeadType,
        key: &[u8],
        data: &[u8],
        nonce: &[u8],
        aad: &[u8],
    ) -> Result<Vec<u8>, CryptoError> {
        aead_seal(alg, key, nonce, aad, data).map_err(|_| CryptoError::CryptoLibraryError)
    }

    fn aead_decrypt(
        &self,
        alg: AeadType,
        key: &[u8],
        ct_tag: &[u8],
        nonce: &[u8],
        aad: &[u8],
    ) -> Result<Vec<u8>, CryptoError> {
        aead_open(alg, key, nonce, aad, ct_tag).map_err(|e| match e {
            Fail::Input => CryptoError::CryptoLibraryError,
            Fail::Auth => CryptoError::AeadDecryptionError,
        })
    }

    fn signature_key_gen(&self, alg: SignatureScheme) -> Result<(Vec<u8>, Vec<u8>), CryptoError> {
        signature_key_gen(alg)
    }

    fn verify_signature(
        &self,
        alg: SignatureScheme,
        data: &[u8],
        pk: &[u8],
        signature: &[u8],
    ) -> Result<(), CryptoError> {
        verify_signature(alg, data, pk, signature)
    }

    fn sign(&self, alg: SignatureScheme, data: &[u8], key: &[u8]) -> Result<Vec<u8>, CryptoError> {
        ParsedSigningKey::new(alg, key, None)?.sign(data)
    }

    fn hpke_seal(
        &self,
        config: HpkeConfig,
        pk_r: &[u8],
        info: &[u8],
        aad: &[u8],
        ptxt: &[u8],
    ) -> Result<HpkeCiphertext, CryptoError> {
        let (kem_output, ciphertext) = hpke(config)?
            .seal(&pk_r.into(), info, aad, ptxt, None, None, None)
            .map_err(hpke_input_error)?;
        Ok(HpkeCiphertext {
            kem_output: kem_output.into(),
            ciphertext: ciphertext.into(),
        })
    }

    fn hpke_open(
        &self,
        config: HpkeConfig,
        input: &HpkeCiphertext,
        sk_r: &[u8],
        info: &[u8],
        aad: &[u8],
    ) -> Result<Vec<u8>, CryptoError> {
        hpke(config)?
            .open(
                input.kem_output.as_slice(),
                &sk_r.into(),
                info,
                aad,
                input.ciphertext.as_slice(),
                None,
                None,
                None,
            )
            .map_err(|_| CryptoError::HpkeDecryptionError)
    }

    fn hpke_setup_sender_and_export(
        &self,
        config: HpkeConfig,
        pk_r: &[u8],
        info: &[u8],
        exporter_context: &[u8],
        exporter_length: usize,
    ) -> Result<(KemOutput, ExporterSecret), CryptoError> {
        let (kem_output, context) = hpke(config)?
            .setup_sender(&pk_r.into(), info, None, None, None)
            .map_err(|_| CryptoError::SenderSetupError)?;
        let secret = context
            .export(exporter_context, exporter_length)
            .map_err(|_| CryptoError::ExporterError)?;
        Ok((kem_output, secret.into()))
    }

    fn hpke_setup_receiver_and_export(
        &self,
        config: HpkeConfig,
        enc: &[u8],
        sk_r: &[u8],
        info: &[u8],
        exporter_context: &[u8],
        exporter_length: usize,
    ) -> Result<ExporterSecret, CryptoError> {
        let context = hpke(config)?
            .setup_receiver(enc, &sk_r.into(), info, None, None, None)
            .map_err(|_| CryptoError::ReceiverSetupError)?;
        context
            .export(exporter_context, exporter_length)
            .map(Into::into)
            .map_err(|_| CryptoError::ExporterError)
    }

    fn derive_hpke_keypair(
        &self,
        config: HpkeConfig,
        ikm: &[u8],
    ) -> Result<HpkeKeyPair, CryptoError> {
        let (private, public) = hpke(config)?
            .derive_key_pair(ikm)
            .map_err(hpke_input_error)?
            .into_keys();
        Ok(HpkeKeyPair {
            private: private.as_slice().into(),
            public: public.as_slice().into(),
        })
    }
}

/// AWS-LC's DRBG did not deliver (it aborts the process first, in practice).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the random number generator failed")]
pub struct RandError;

impl OpenMlsRand for AwsLcCrypto {
    type Error = RandError;

    fn random_array<const N: usize>(&self) -> Result<[u8; N], Self::Error> {
        let mut out = [0u8; N];
        fill_random(&mut out).map_err(|_| RandError)?;
        Ok(out)
    }

    fn random_vec(&self, len: usize) -> Result<Vec<u8>, Self::Error> {
        let mut out = vec![0u8; len];
        fill_random(&mut out).map_err(|_| RandError)?;
        Ok(out)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use openmls_rust_crypto::RustCrypto;

    fn hex(s: &str) -> Vec<u8> {
        let s: String = s.split_whitespace().collect();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    const SCHEMES: [SignatureScheme; 2] = [
        SignatureScheme::ECDSA_SECP256R1_SHA256,
        SignatureScheme::ED25519,
    ];

    #[test]
    fn suites_are_the_three() {
        let c = AwsLcCrypto;
        assert_eq!(c.supported_ciphersuites().len(), 3);
        for s in c.supported_ciphersuites() {
            c.supports(s).unwrap();
        }
        assert_eq!(
            c.supports(Ciphersuite::MLS_256_DHKEMP384_AES256GCM_SHA384_P384),
            Err(CryptoError::UnsupportedCiphersuite)
        );
    }

    /// RFC 5869 Appendix A.1 (HKDF-SHA256, basic test case).
    #[test]
    fn hkdf_rfc5869_a1() {
        let c = AwsLcCrypto;
        let ikm = [0x0bu8; 22];
        let salt = hex("000102030405060708090a0b0c");
        let info = hex("f0f1f2f3f4f5f6f7f8f9");
        let prk = c.hkdf_extract(HashType::Sha2_256, &salt, &ikm).unwrap();
        assert_eq!(
            prk.as_slice(),
            hex("077709362c2e32df0ddc3f0dc47bba6390b6c73bb50f9c3122ec844ad7c2b3e5")
        );
        let okm = c
            .hkdf_expand(HashType::Sha2_256, prk.as_slice(), &info, 42)
            .unwrap();
        assert_eq!(
            okm.as_slice(),
            hex("3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865")
        );
    }

    /// Every primitive gives RustCrypto's answer (deterministic ones), or is accepted
    /// by RustCrypto (randomised ones), and the other way round.
    #[test]
    fn same_answers_as_rustcrypto() {
        let (a, r) = (AwsLcCrypto, RustCrypto::default());
        for hash in [HashType::Sha2_256, HashType::Sha2_384, HashType::Sha2_512] {
            for len in [0usize, 1, 63, 64, 65, 1000] {
                let data = a.random_vec(len).unwrap();
                let key = a.random_vec(len / 3 + 1).unwrap();
                assert_eq!(a.hash(hash, &data), r.hash(hash, &data));
                assert_eq!(
                    a.hmac(hash, &key, &data).unwrap().as_slice(),
                    r.hmac(hash, &key, &data).unwrap().as_slice()
                );
                let prk = a.hkdf_extract(hash, &key, &data).unwrap();
                assert_eq!(
                    prk.as_slice(),
                    r.hkdf_extract(hash, &key, &data).unwrap().as_slice()
                );
                assert_eq!(
                    a.hkdf_expand(hash, prk.as_slice(), &data, len)
                        .unwrap()
                        .as_slice(),
                    r.hkdf_expand(hash, prk.as_slice(), &data, len)
                        .unwrap()
                        .as_slice()
                );
            }
            // Empty salt, too long output, short PRK.
            assert_eq!(
                a.hkdf_extract(hash, b"", b"ikm").unwrap().as_slice(),
                r.hkdf_extract(hash, b"", b"ikm").unwrap().as_slice()
            );
            let n = hash.size();
            assert!(a.hkdf_expand(hash, &vec![1; n], b"", 255 * n).is_ok());
            assert_eq!(
                a.hkdf_expand(hash, &vec![1; n], b"", 255 * n + 1),
                Err(CryptoError::HkdfOutputLengthInvalid)
            );
            assert_eq!(
                a.hkdf_expand(hash, &vec![1; n - 1], b"", 32),
                Err(CryptoError::HkdfOutputLengthInvalid)
            );
            assert!(a.hkdf_expand(hash, &[1; 200], b"", 32).is_err());
        }
        for alg in [
            AeadType::Aes128Gcm,
            AeadType::Aes256Gcm,
            AeadType::ChaCha20Poly1305,
        ] {
            let key = a.random_vec(alg.key_size()).unwrap();
            let nonce = a.random_vec(alg.nonce_size()).unwrap();
            for len in [0usize, 1, 100, 4097] {
                let pt = a.random_vec(len).unwrap();
                let ct = a.aead_encrypt(alg, &key, &pt, &nonce, b"aad").unwrap();
                assert_eq!(ct, r.aead_encrypt(alg, &key, &pt, &nonce, b"aad").unwrap());
                assert_eq!(a.aead_decrypt(alg, &key, &ct, &nonce, b"aad").unwrap(), pt);
                let mut bad = ct.clone();
                bad[0] ^= 1;
                assert_eq!(
                    a.aead_decrypt(alg, &key, &bad, &nonce, b"aad"),
                    Err(CryptoError::AeadDecryptionError)
                );
                assert_eq!(
                    a.aead_decrypt(alg, &key, &ct, &nonce, b"aae"),
                    Err(CryptoError::AeadDecryptionError)
                );
            }
            // Short input, wrong key or nonce length: errors, no panic.
            assert!(a.aead_decrypt(alg, &key, &[0; 15], &nonce, b"").is_err());
            assert!(a.aead_encrypt(alg, &key[1..], b"x", &nonce, b"").is_err());
            assert!(a.aead_encrypt(alg, &key, b"x", &nonce[1..], b"").is_err());
            assert!(a.aead_decrypt(alg, &key, &[0; 32], &[0; 11], b"").is_err());
        }
        for scheme in SCHEMES {
            for (signer, verifier) in [(&a as &dyn Signs, &r as &dyn Signs), (&r, &a)] {
                let (sk, pk) = signer.gen(scheme);
                let sig = signer.sign_with(scheme, b"payload", &sk);
                verifier.verify_with(scheme, b"payload", &pk, &sig).unwrap();
                assert_eq!(
                    verifier.verify_with(scheme, b"payloae", &pk, &sig),
                    Err(CryptoError::InvalidSignature)
                );
                // The stored public key is the one the private key gives.
                assert_eq!(signature_public_key(scheme, &sk).unwrap(), pk);
            }
        }
    }

    /// Both providers through one object-safe face, for the loops above.
    trait Signs {
        fn gen(&self, s: SignatureScheme) -> (Vec<u8>, Vec<u8>);
        fn sign_with(&self, s: SignatureScheme, d: &[u8], k: &[u8]) -> Vec<u8>;
        fn verify_with(
            &self,
            s: SignatureScheme,
            d: &[u8],
            pk: &[u8],
            sig: &[u8],
        ) -> Result<(), CryptoError>;
    }

    impl<C: OpenMlsCrypto> Signs for C {
        fn gen(&self, s: SignatureScheme) -> (Vec<u8>, Vec<u8>) {
            self.signature_key_gen(s).unwrap()
        }
        fn sign_with(&self, s: SignatureScheme, d: &[u8], k: &[u8]) -> Vec<u8> {
            self.sign(s, d, k).unwrap()
        }
        fn verify_with(
            &self,
            s: SignatureScheme,
            d: &[u8],
            pk: &[u8],
            sig: &[u8],
        ) -> Result<(), CryptoError> {
            self.verify_signature(s, d, pk, sig)
        }
    }

    #[test]
    fn malformed_keys_and_signatures_are_errors() {
        let a = AwsLcCrypto;
        let (sk, pk) = a
            .signature_key_gen(SignatureScheme::ECDSA_SECP256R1_SHA256)
            .unwrap();
        let sig = a
            .sign(SignatureScheme::ECDSA_SECP256R1_SHA256, b"m", &sk)
            .unwrap();
        let p = SignatureScheme::ECDSA_SECP256R1_SHA256;
        // Compressed or DER-wrapped public keys, truncated signatures, zero and
        // out-of-range scalars.
        assert!(a.verify_signature(p, b"m", &pk[..33], &sig).is_err());
        assert!(a
            .verify_signature(p, b"m", &pk, &sig[..sig.len() - 1])
            .is_err());
        assert!(a.verify_signature(p, b"m", &pk, &[]).is_err());
        let mut off_curve = pk.clone();
        off_curve[64] ^= 1;
        assert!(a.verify_signature(p, b"m", &off_curve, &sig).is_err());
        assert!(a.sign(p, b"m", &[0; 32]).is_err());
        assert!(a.sign(p, b"m", &[0xff; 32]).is_err());
        assert!(a.sign(p, b"m", &sk[1..]).is_err());
        let e = SignatureScheme::ED25519;
        assert!(a.sign(e, b"m", &[1; 31]).is_err());
        assert!(a.verify_signature(e, b"m", &[1; 31], &[0; 64]).is_err());
        assert!(a.verify_signature(e, b"m", &[1; 32], &[0; 63]).is_err());
        assert!(a
            .signature_key_gen(SignatureScheme::ECDSA_SECP384R1_SHA384)
            .is_err());
    }

    #[test]
    fn random_is_random() {
        let a = AwsLcCrypto;
        let x: [u8; 32] = a.random_array().unwrap();
        let y: [u8; 32] = a.random_array().unwrap();
        assert_ne!(x, y);
        assert_eq!(a.random_vec(100).unwrap().len(), 100);
    }
}
