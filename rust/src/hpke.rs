//! `hpke-rs`'s crypto trait on AWS-LC: the primitives under RFC 9180's HPKE.
//!
//! `hpke-rs` composes them (DHKEM's ExtractAndExpand and DeriveKeyPair with its rejection
//! sampling, the key schedule, the AEAD sequence, the exporter); this module supplies
//! HKDF, ECDH over P-256 and X25519, key generation, scalar validation and AEAD, all
//! from aws-lc-rs. The KEMs are the two of suites 0x0001 to 0x0003: DHKEM(P-256,
//! HKDF-SHA256) and DHKEM(X25519, HKDF-SHA256).

use aws_lc_rs::agreement::{self, PrivateKey, UnparsedPublicKey, ECDH_P256, X25519};
use aws_lc_rs::encoding::{AsBigEndian, Curve25519SeedBin, EcPrivateKeyBin};
use hpke_rs_crypto::error::Error;
use hpke_rs_crypto::types::{AeadAlgorithm, KdfAlgorithm, KemAlgorithm};
use hpke_rs_crypto::{HpkeCrypto, HpkeTestRng, TryCryptoRng, TryRng};
use openmls_traits::types::{AeadType, HashType};
use std::cell::RefCell;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::crypto::{self, is_sec1_uncompressed, Fail, P256_SCALAR_LEN};

/// The HPKE primitives on AWS-LC.
#[derive(Debug)]
pub struct AwsLcHpke;

/// AWS-LC's DRBG as the `rand` generator `hpke-rs` draws ephemeral keys from.
#[derive(Debug, Default)]
pub struct AwsLcPrng;

impl zeroize::Zeroize for AwsLcPrng {
    fn zeroize(&mut self) {
        // No state here: AWS-LC keeps (and wipes) its own.
    }
}

impl TryRng for AwsLcPrng {
    type Error = core::convert::Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
        let mut b = [0u8; 4];
        self.try_fill_bytes(&mut b)?;
        Ok(u32::from_le_bytes(b))
    }

    fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
        let mut b = [0u8; 8];
        self.try_fill_bytes(&mut b)?;
        Ok(u64::from_le_bytes(b))
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
        // `rand`'s CryptoRng is infallible by type. AWS-LC's RAND_bytes never reports a
        // failure (it aborts the process itself when its entropy source fails), so this
        // branch is not taken; if it were, going on with unfilled bytes would be worse
        // than stopping.
        if crypto::fill_random(dst).is_err() {
            std::process::abort();
        }
        Ok(())
    }
}

impl TryCryptoRng for AwsLcPrng {}

/// `hpke-rs`'s test-randomness hook: only read under its `hpke-test-prng` feature, which
/// this crate does not enable; it draws real randomness.
impl HpkeTestRng for AwsLcPrng {
    type Error = Error;

    fn try_fill_test_bytes(&mut self, dest: &mut [u8]) -> Result<(), Self::Error> {
        crypto::fill_random(dest).map_err(|_| Error::InsufficientRandomness)
    }

    fn seed(&mut self, _: &[u8]) {}
}

fn hash_of(alg: KdfAlgorithm) -> HashType {
    match alg {
        KdfAlgorithm::HkdfSha256 => HashType::Sha2_256,
        KdfAlgorithm::HkdfSha384 => HashType::Sha2_384,
        KdfAlgorithm::HkdfSha512 => HashType::Sha2_512,
    }
}

fn aead_of(alg: AeadAlgorithm) -> Result<AeadType, Error> {
    match alg {
        AeadAlgorithm::Aes128Gcm => Ok(AeadType::Aes128Gcm),
        AeadAlgorithm::Aes256Gcm => Ok(AeadType::Aes256Gcm),
        AeadAlgorithm::ChaCha20Poly1305 => Ok(AeadType::ChaCha20Poly1305),
        AeadAlgorithm::HpkeExport => Err(Error::UnknownAeadAlgorithm),
    }
}

/// The AWS-LC curve of a DH KEM, and its private and public key lengths.
fn curve(alg: KemAlgorithm) -> Result<(&'static agreement::Algorithm, usize, usize), Error> {
    match alg {
        KemAlgorithm::DhKemP256 => Ok((&ECDH_P256, P256_SCALAR_LEN, crypto::P256_POINT_LEN)),
        KemAlgorithm::DhKem25519 => Ok((&X25519, 32, 32)),
        _ => Err(Error::UnknownKemAlgorithm),
    }
}

/// Parse a private key: a P-256 scalar in [1, n-1] (AWS-LC refuses 0 and n or more), or
/// any 32 bytes for X25519 (clamped when used, RFC 7748 §5).
fn private_key(alg: KemAlgorithm, sk: &[u8]) -> Result<PrivateKey, Error> {
    let (curve, sk_len, _) = curve(alg)?;
    if sk.len() != sk_len {
        return Err(Error::KemInvalidSecretKey);
    }
    let key = PrivateKey::from_private_key(curve, sk).map_err(|_| Error::KemInvalidSecretKey)?;
    // Parsing computed the public key (for P-256: a scalar multiplication, and another to
    // check it); `hpke-rs` asks for it right after (DeriveKeyPair, Decap).
    if let Ok(public) = public_bytes(&key) {
        LAST_KEY.with(|last| *last.borrow_mut() = Some((alg, Zeroizing::new(sk.to_vec()), public)));
    }
    Ok(key)
}

/// A KEM, a private key and its public key.
type ParsedKey = (KemAlgorithm, Zeroizing<Vec<u8>>, Vec<u8>);

thread_local! {
    /// The private key this thread parsed last, with its public key: DeriveKeyPair checks
    /// a candidate scalar then asks for its public key, Decap computes DH with the
    /// recipient key then asks for its public key, so the second parse (two more P-256
    /// scalar multiplications) is skipped.
    static LAST_KEY: RefCell<Option<ParsedKey>> = const { RefCell::new(None) };
}

/// The public key of `sk`, from [`LAST_KEY`] when it is that key (compared in constant
/// time), else by parsing it.
fn public_of(alg: KemAlgorithm, sk: &[u8]) -> Result<Vec<u8>, Error> {
    let cached = LAST_KEY.with(|last| match &*last.borrow() {
        Some((a, k, pk)) if *a == alg && k.len() == sk.len() && bool::from(k.ct_eq(sk)) => {
            Some(pk.clone())
        }
        _ => None,
    });
    match cached {
        Some(pk) => Ok(pk),
        None => public_bytes(&private_key(alg, sk)?),
    }
}

fn public_bytes(sk: &PrivateKey) -> Result<Vec<u8>, Error> {
    sk.compute_public_key()
        .map(|pk| pk.as_ref().to_vec())
        .map_err(|_| Error::CryptoLibraryError("public key computation failed".into()))
}

fn private_bytes(alg: KemAlgorithm, sk: &PrivateKey) -> Result<Vec<u8>, Error> {
    let failed = |_| Error::CryptoLibraryError("private key serialisation failed".into());
    match alg {
        KemAlgorithm::DhKemP256 => {
            let b: EcPrivateKeyBin = sk.as_be_bytes().map_err(failed)?;
            Ok(b.as_ref().to_vec())
        }
        KemAlgorithm::DhKem25519 => {
            let b: Curve25519SeedBin = sk.as_be_bytes().map_err(failed)?;
            Ok(b.as_ref().to_vec())
        }
        _ => Err(Error::UnknownKemAlgorithm),
    }
}

impl HpkeCrypto for AwsLcHpke {
    type HpkePrng = AwsLcPrng;

    fn name() -> String {
        "aws-lc-rs".into()
    }

    fn supports_kdf(_: KdfAlgorithm) -> Result<(), Error> {
        Ok(())
    }

    fn supports_kem(alg: KemAlgorithm) -> Result<(), Error> {
        curve(alg).map(|_| ())
    }

    fn supports_aead(alg: AeadAlgorithm) -> Result<(), Error> {
        match alg {
            AeadAlgorithm::HpkeExport => Ok(()),
            other => aead_of(other).map(|_| ()),
        }
    }

    fn prng() -> Self::HpkePrng {
        AwsLcPrng
    }

    fn kdf_extract(alg: KdfAlgorithm, salt: &[u8], ikm: &[u8]) -> Result<Vec<u8>, Error> {
        Ok(crypto::hkdf_extract(hash_of(alg), salt, ikm))
    }

    fn kdf_expand(
        alg: KdfAlgorithm,
        prk: &[u8],
        info: &[u8],
        output_size: usize,
    ) -> Result<Vec<u8>, Error> {
        crypto::hkdf_expand(hash_of(alg), prk, info, output_size)
            .map_err(|_| Error::HpkeInvalidOutputLength)
    }

    /// DH(sk, pk): the x-coordinate for P-256 (RFC 9180 §7.1.1), the X25519 output
    /// otherwise; AWS-LC refuses an all-zero X25519 output (RFC 9180 §7.1.4) and a point
    /// not on the curve.
    fn dh(alg: KemAlgorithm, pk: &[u8], sk: &[u8]) -> Result<Vec<u8>, Error> {
        let (curve, _, pk_len) = curve(alg)?;
        let pk_ok = match alg {
            KemAlgorithm::DhKemP256 => is_sec1_uncompressed(pk),
            _ => pk.len() == pk_len,
        };
        if !pk_ok {
            return Err(Error::KemInvalidPublicKey);
        }
        let sk = private_key(alg, sk)?;
        agreement::agree(
            &sk,
            UnparsedPublicKey::new(curve, pk),
            Error::KemInvalidPublicKey,
            |secret| Ok(secret.to_vec()),
        )
    }

    fn secret_to_public(alg: KemAlgorithm, sk: &[u8]) -> Result<Vec<u8>, Error> {
        public_of(alg, sk)
    }

    /// A fresh key pair from AWS-LC's generator: (public, private).
    fn kem_key_gen(alg: KemAlgorithm, _: &mut Self::HpkePrng) -> Result<(Vec<u8>, Vec<u8>), Error> {
        let (curve, _, _) = curve(alg)?;
        let sk = PrivateKey::generate(curve).map_err(|_| Error::InsufficientRandomness)?;
        Ok((public_bytes(&sk)?, private_bytes(alg, &sk)?))
    }

    fn kem_key_gen_derand(_: KemAlgorithm, _: &[u8]) -> Result<(Vec<u8>, Vec<u8>), Error> {
        Err(Error::UnsupportedKemOperation)
    }

    fn kem_encaps(
        _: KemAlgorithm,
        _: &[u8],
        _: &mut Self::HpkePrng,
    ) -> Result<(Vec<u8>, Vec<u8>), Error> {
        Err(Error::UnsupportedKemOperation)
    }

    fn kem_decaps(_: KemAlgorithm, _: &[u8], _: &[u8]) -> Result<Vec<u8>, Error> {
        Err(Error::UnsupportedKemOperation)
    }

    /// DeriveKeyPair's candidate check (RFC 9180 §7.1.3): a P-256 scalar in [1, n-1].
    fn dh_validate_sk(alg: KemAlgorithm, sk: &[u8]) -> Result<Vec<u8>, Error> {
        match alg {
            KemAlgorithm::DhKemP256 => private_key(alg, sk).map(|_| sk.to_vec()),
            _ => Err(Error::UnknownKemAlgorithm),
        }
    }

    fn aead_seal(
        alg: AeadAlgorithm,
        key: &[u8],
        nonce: &[u8],
        aad: &[u8],
        msg: &[u8],
    ) -> Result<Vec<u8>, Error> {
        crypto::aead_seal(aead_of(alg)?, key, nonce, aad, msg)
            .map_err(|_| Error::CryptoLibraryError("AEAD key or nonce of the wrong length".into()))
    }

    fn aead_open(
        alg: AeadAlgorithm,
        key: &[u8],
        nonce: &[u8],
        aad: &[u8],
        msg: &[u8],
    ) -> Result<Vec<u8>, Error> {
        crypto::aead_open(aead_of(alg)?, key, nonce, aad, msg).map_err(|e| match e {
            Fail::Auth => Error::AeadOpenError,
            Fail::Input => {
                Error::CryptoLibraryError("AEAD key or nonce of the wrong length".into())
            }
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use hpke_rs::{Hpke, HpkePrivateKey, HpkePublicKey, Mode};
    use openmls_rust_crypto::RustCrypto;
    use openmls_traits::crypto::OpenMlsCrypto;
    use openmls_traits::types::{Ciphersuite, HpkeCiphertext};

    use crate::crypto::AwsLcCrypto;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    /// One Base-mode vector of RFC 9180 Appendix A. Every suite there uses the same
    /// info, plaintext and `Count-i` AADs; the exports are 32 bytes for the contexts
    /// "", 0x00 and "TestContext".
    struct Vector {
        kem: KemAlgorithm,
        aead: AeadAlgorithm,
        /// (ikm, sk, pk) for the ephemeral then the recipient key pair; an empty ikm
        /// means the vector is checked from sk alone.
        ephemeral: (&'static str, &'static str, &'static str),
        recipient: (&'static str, &'static str, &'static str),
        /// Ciphertexts of sequence numbers 0, 1, ...
        cts: &'static [&'static str],
        exports: [&'static str; 3],
    }

    const INFO: &str = "4f6465206f6e2061204772656369616e2055726e"; // "Ode on a Grecian Urn"
    const PT: &str = "4265617574792069732074727574682c20747275746820626561757479";
    const EXPORT_CONTEXTS: [&str; 3] = ["", "00", "54657374436f6e74657874"];

    /// The values of RFC 9180 Appendix A.1.1, A.2.1 and A.3.1 (Base mode).
    const VECTORS: [Vector; 3] = [
        // A.1: DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, AES-128-GCM (MLS suite 0x0001).
        Vector {
            kem: KemAlgorithm::DhKem25519,
            aead: AeadAlgorithm::Aes128Gcm,
            ephemeral: (
                "7268600d403fce431561aef583ee1613527cff655c1343f29812e66706df3234",
                "52c4a758a802cd8b936eceea314432798d5baf2d7e9235dc084ab1b9cfa2f736",
                "37fda3567bdbd628e88668c3c8d7e97d1d1253b6d4ea6d44c150f741f1bf4431",
            ),
            recipient: (
                "6db9df30aa07dd42ee5e8181afdb977e538f5e1fec8a06223f33f7013e525037",
                "4612c550263fc8ad58375df3f557aac531d26850903e55a9f23f21d8534e8ac8",
                "3948cfe0ad1ddb695d780e59077195da6c56506b027329794ab02bca80815c4d",
            ),
            cts: &[
                "f938558b5d72f1a23810b4be2ab4f84331acc02fc97babc53a52ae8218a355a96d8770ac83d07bea87e13c512a",
                "af2d7e9ac9ae7e270f46ba1f975be53c09f8d875bdc8535458c2494e8a6eab251c03d0c22a56b8ca42c2063b84",
            ],
            exports: [
                "3853fe2b4035195a573ffc53856e77058e15d9ea064de3e59f4961d0095250ee",
                "2e8f0b54673c7029649d4eb9d5e33bf1872cf76d623ff164ac185da9e88c21a5",
                "e9e43065102c3836401bed8c3c3c75ae46be1639869391d62c61f1ec7af54931",
            ],
        },
        // A.2: DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, ChaCha20Poly1305 (suite 0x0003).
        Vector {
            kem: KemAlgorithm::DhKem25519,
            aead: AeadAlgorithm::ChaCha20Poly1305,
            ephemeral: (
                "",
                "f4ec9b33b792c372c1d2c2063507b684ef925b8c75a42dbcbf57d63ccd381600",
                "1afa08d3dec047a643885163f1180476fa7ddb54c6a8029ea33f95796bf2ac4a",
            ),
            recipient: (
                "",
                "8057991eef8f1f1af18f4a9491d16a1ce333f695d4db8e38da75975c4478e0fb",
                "4310ee97d88cc1f088a5576c77ab0cf5c3ac797f3d95139c6c84b5429c59662a",
            ),
            cts: &[
                "1c5250d8034ec2b784ba2cfd69dbdb8af406cfe3ff938e131f0def8c8b60b4db21993c62ce81883d2dd1b51a28",
            ],
            exports: [
                "4bbd6243b8bb54cec311fac9df81841b6fd61f56538a775e7c80a9f40160606e",
                "8c1df14732580e5501b00f82b10a1647b40713191b7c1240ac80e2b68808ba69",
                "5acb09211139c43b3090489a9da433e8a30ee7188ba8b0a9a1ccf0c229283e53",
            ],
        },
        // A.3: DHKEM(P-256, HKDF-SHA256), HKDF-SHA256, AES-128-GCM (suite 0x0002).
        Vector {
            kem: KemAlgorithm::DhKemP256,
            aead: AeadAlgorithm::Aes128Gcm,
            ephemeral: (
                "4270e54ffd08d79d5928020af4686d8f6b7d35dbe470265f1f5aa22816ce860e",
                "4995788ef4b9d6132b249ce59a77281493eb39af373d236a1fe415cb0c2d7beb",
                "04a92719c6195d5085104f469a8b9814d5838ff72b60501e2c4466e5e67b325ac98536d7b61a1af4b78e5b7f951c0900be863c403ce65c9bfcb9382657222d18c4",
            ),
            recipient: (
                "668b37171f1072f3cf12ea8a236a45df23fc13b82af3609ad1e354f6ef817550",
                "f3ce7fdae57e1a310d87f1ebbde6f328be0a99cdbcadf4d6589cf29de4b8ffd2",
                "04fe8c19ce0905191ebc298a9245792531f26f0cece2460639e8bc39cb7f706a826a779b4cf969b8a0e539c7f62fb3d30ad6aa8f80e30f1d128aafd68a2ce72ea0",
            ),
            cts: &[
                "5ad590bb8baa577f8619db35a36311226a896e7342a6d836d8b7bcd2f20b6c7f9076ac232e3ab2523f39513434",
                "fa6f037b47fc21826b610172ca9637e82d6e5801eb31cbd3748271affd4ecb06646e0329cbdf3c3cd655b28e82",
            ],
            exports: [
                "5e9bc3d236e1911d95e65b576a8a86d478fb827e8bdfe77b741b289890490d4d",
                "6cff87658931bda83dc857e6353efe4987a201b849658d9b047aab4cf216e796",
                "d8f1ea7942adbba7412c6d431c62d01371ea476b823eb697e1f6e6cae1dab85a",
            ],
        },
    ];

    fn hpke_for(v: &Vector) -> Hpke<AwsLcHpke> {
        Hpke::new(Mode::Base, v.kem, KdfAlgorithm::HkdfSha256, v.aead)
    }

    /// RFC 9180 Appendix A: DeriveKeyPair, the public keys, DH both ways, Decap and the
    /// key schedule (by opening every listed ciphertext) and the exporter.
    #[test]
    fn rfc9180_vectors() {
        for v in &VECTORS {
            let hpke = hpke_for(v);
            for (ikm, sk, pk) in [v.ephemeral, v.recipient] {
                if !ikm.is_empty() {
                    let (dsk, dpk) = hpke.derive_key_pair(&hex(ikm)).unwrap().into_keys();
                    assert_eq!(dsk.as_slice(), hex(sk), "{:?} DeriveKeyPair sk", v.kem);
                    assert_eq!(dpk.as_slice(), hex(pk), "{:?} DeriveKeyPair pk", v.kem);
                }
                assert_eq!(
                    AwsLcHpke::secret_to_public(v.kem, &hex(sk)).unwrap(),
                    hex(pk)
                );
            }
            let (esk, epk) = (hex(v.ephemeral.1), hex(v.ephemeral.2));
            let (rsk, rpk) = (hex(v.recipient.1), hex(v.recipient.2));
            assert_eq!(
                AwsLcHpke::dh(v.kem, &rpk, &esk).unwrap(),
                AwsLcHpke::dh(v.kem, &epk, &rsk).unwrap()
            );
            // enc is pkEm.
            let mut ctx = hpke
                .setup_receiver(
                    &epk,
                    &HpkePrivateKey::new(rsk),
                    &hex(INFO),
                    None,
                    None,
                    None,
                )
                .unwrap();
            for (seq, ct) in v.cts.iter().enumerate() {
                let aad = format!("Count-{seq}");
                assert_eq!(
                    ctx.open(aad.as_bytes(), &hex(ct)).unwrap(),
                    hex(PT),
                    "{:?}/{:?} sequence {seq}",
                    v.kem,
                    v.aead
                );
            }
            for (c, e) in EXPORT_CONTEXTS.iter().zip(v.exports) {
                assert_eq!(ctx.export(&hex(c), 32).unwrap(), hex(e));
            }
            // Our own seal opens under the recipient key, and a changed AAD does not.
            let mut sender = hpke_for(v);
            let (enc, ct) = sender
                .seal(
                    &HpkePublicKey::new(rpk.clone()),
                    &hex(INFO),
                    b"aad",
                    b"pt",
                    None,
                    None,
                    None,
                )
                .unwrap();
            let open = |aad: &[u8]| {
                hpke_for(v).open(
                    &enc,
                    &HpkePrivateKey::new(hex(v.recipient.1)),
                    &hex(INFO),
                    aad,
                    &ct,
                    None,
                    None,
                    None,
                )
            };
            assert_eq!(open(b"aad").unwrap(), b"pt");
            assert!(open(b"aae").is_err());
        }
    }

    /// DeriveKeyPair's candidates: P-256 scalars outside [1, n-1] are refused.
    #[test]
    fn p256_scalar_range() {
        let n = hex("ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551");
        let mut n_minus_1 = n.clone();
        n_minus_1[31] -= 1;
        let p = KemAlgorithm::DhKemP256;
        assert!(AwsLcHpke::dh_validate_sk(p, &[0; 32]).is_err());
        assert!(AwsLcHpke::dh_validate_sk(p, &n).is_err());
        assert!(AwsLcHpke::dh_validate_sk(p, &[0xff; 32]).is_err());
        assert!(AwsLcHpke::dh_validate_sk(p, &[1; 31]).is_err());
        assert_eq!(AwsLcHpke::dh_validate_sk(p, &n_minus_1).unwrap(), n_minus_1);
        let mut one = [0u8; 32];
        one[31] = 1;
        assert!(AwsLcHpke::dh_validate_sk(p, &one).is_ok());
    }

    /// The per-thread last-key shortcut gives each key its own public key.
    #[test]
    fn public_key_shortcut() {
        for kem in [KemAlgorithm::DhKemP256, KemAlgorithm::DhKem25519] {
            let (pk1, sk1) = AwsLcHpke::kem_key_gen(kem, &mut AwsLcPrng).unwrap();
            let (pk2, sk2) = AwsLcHpke::kem_key_gen(kem, &mut AwsLcPrng).unwrap();
            // Parse sk1 (DH), then ask for sk2's public key, then sk1's.
            let _ = AwsLcHpke::dh(kem, &pk2, &sk1).unwrap();
            assert_eq!(AwsLcHpke::secret_to_public(kem, &sk2).unwrap(), pk2);
            assert_eq!(AwsLcHpke::secret_to_public(kem, &sk2).unwrap(), pk2);
            assert_eq!(AwsLcHpke::secret_to_public(kem, &sk1).unwrap(), pk1);
            // The other curve's key of the same bytes is not taken for this one.
            if kem == KemAlgorithm::DhKem25519 {
                assert_ne!(
                    AwsLcHpke::secret_to_public(KemAlgorithm::DhKemP256, &sk1).ok(),
                    Some(pk1.clone())
                );
            }
        }
    }

    /// Malformed public keys are errors (RFC 9180 §7.1.4: an X25519 result of zero too).
    #[test]
    fn bad_public_keys() {
        let (pk, sk) = AwsLcHpke::kem_key_gen(KemAlgorithm::DhKemP256, &mut AwsLcPrng).unwrap();
        assert_eq!((pk.len(), sk.len()), (65, 32));
        let p = KemAlgorithm::DhKemP256;
        let mut off_curve = pk.clone();
        off_curve[64] ^= 1;
        assert!(AwsLcHpke::dh(p, &off_curve, &sk).is_err());
        assert!(AwsLcHpke::dh(p, &pk[..33], &sk).is_err());
        assert!(AwsLcHpke::dh(p, &[0; 65], &sk).is_err());
        let (xpk, xsk) = AwsLcHpke::kem_key_gen(KemAlgorithm::DhKem25519, &mut AwsLcPrng).unwrap();
        assert_eq!((xpk.len(), xsk.len()), (32, 32));
        let x = KemAlgorithm::DhKem25519;
        assert!(AwsLcHpke::dh(x, &[0; 32], &xsk).is_err());
        assert!(AwsLcHpke::dh(x, &xpk[1..], &xsk).is_err());
        assert!(AwsLcHpke::dh(x, &xpk, &xsk[1..]).is_err());
        assert!(AwsLcHpke::supports_kem(KemAlgorithm::DhKemP384).is_err());
    }

    /// The OpenMLS HPKE calls interoperate with `openmls_rust_crypto` both ways, and
    /// derive the same key pairs.
    #[test]
    fn same_hpke_as_rustcrypto() {
        let (a, r) = (AwsLcCrypto, RustCrypto::default());
        for suite in a.supported_ciphersuites() {
            for (x, y) in [(&a as &dyn Hpkes, &r as &dyn Hpkes), (&r, &a)] {
                let ikm = [7u8; 32];
                let kp = x.derive(suite, &ikm);
                let kp2 = y.derive(suite, &ikm);
                assert_eq!(&kp.private[..], &kp2.private[..]);
                assert_eq!(kp.public, kp2.public);
                for len in [0usize, 1, 1000] {
                    let pt = vec![3u8; len];
                    let ct = x.seal(suite, &kp.public, &pt);
                    assert_eq!(y.open(suite, &ct, &kp.private[..]).unwrap(), pt);
                }
                let (enc, secret) = x.send_export(suite, &kp.public);
                assert_eq!(y.receive_export(suite, &enc, &kp.private[..]), secret);
            }
        }
    }

    trait Hpkes {
        fn derive(&self, s: Ciphersuite, ikm: &[u8]) -> openmls_traits::types::HpkeKeyPair;
        fn seal(&self, s: Ciphersuite, pk: &[u8], pt: &[u8]) -> HpkeCiphertext;
        fn open(&self, s: Ciphersuite, ct: &HpkeCiphertext, sk: &[u8]) -> Option<Vec<u8>>;
        fn send_export(&self, s: Ciphersuite, pk: &[u8]) -> (Vec<u8>, Vec<u8>);
        fn receive_export(&self, s: Ciphersuite, enc: &[u8], sk: &[u8]) -> Vec<u8>;
    }

    impl<C: OpenMlsCrypto> Hpkes for C {
        fn derive(&self, s: Ciphersuite, ikm: &[u8]) -> openmls_traits::types::HpkeKeyPair {
            self.derive_hpke_keypair(s.hpke_config(), ikm).unwrap()
        }
        fn seal(&self, s: Ciphersuite, pk: &[u8], pt: &[u8]) -> HpkeCiphertext {
            self.hpke_seal(s.hpke_config(), pk, b"info", b"aad", pt)
                .unwrap()
        }
        fn open(&self, s: Ciphersuite, ct: &HpkeCiphertext, sk: &[u8]) -> Option<Vec<u8>> {
            self.hpke_open(s.hpke_config(), ct, sk, b"info", b"aad")
                .ok()
        }
        fn send_export(&self, s: Ciphersuite, pk: &[u8]) -> (Vec<u8>, Vec<u8>) {
            let (enc, secret) = self
                .hpke_setup_sender_and_export(s.hpke_config(), pk, b"info", b"ctx", 32)
                .unwrap();
            (enc, secret.to_vec())
        }
        fn receive_export(&self, s: Ciphersuite, enc: &[u8], sk: &[u8]) -> Vec<u8> {
            self.hpke_setup_receiver_and_export(s.hpke_config(), enc, sk, b"info", b"ctx", 32)
                .unwrap()
                .to_vec()
        }
    }
}
