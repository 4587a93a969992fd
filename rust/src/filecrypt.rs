//! RCS file encryption: GSMA RCC.16 Annex C.
//!
//! Files, the group icon and the group subject are encrypted under a fresh 256-bit key `K`
//! (C.2): `k_enc ‖ k_hmac = HKDF-SHA256(IKM = K, salt = π, info = name, L = 64)`; the
//! plaintext `M ‖ paddingLength zero bytes ‖ uint32 messageLength ‖ uint32 paddingLength`
//! (big-endian, Padmé padding) is encrypted with AES-256-CTR whose first counter block is
//! `IV ‖ 00000000`, and `tag = HMAC-SHA256(k_hmac, IV ‖ ciphertext)` travels separately.
//! Decryption (C.3) checks the tag in constant time before anything is decrypted, then the
//! lengths, the Padmé relation, the optional length hint and the zero padding; every failure
//! is the same `FileIntegrity` error.
//!
//! Two interfaces: in memory (`file_encrypt` / `file_decrypt`) and streaming from path to path
//! (`file_encrypt_path` / `file_decrypt_path`) with a fixed buffer, so a large file never sits
//! in memory. Both release the GIL around all crypto and IO.

use std::ffi::OsString;
use std::fs::{self, File, OpenOptions};
use std::io::{self, ErrorKind, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use aws_lc_rs::cipher::{EncryptingKey, EncryptionContext, UnboundCipherKey, AES_256};
use aws_lc_rs::hmac;
use aws_lc_rs::iv::FixedLength;
use openmls_traits::types::HashType;
use pyo3::exceptions::{PyOSError, PyTypeError};
use pyo3::prelude::*;
use pyo3::pybacked::PyBackedBytes;
use pyo3::types::{PyByteArray, PyBytes, PyMemoryView};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::crypto;
use crate::error::{detach, Error, Result};

/// The HKDF salt of Annex C: the first 32 bytes of the fractional part of π in hex.
pub const PI_SALT: [u8; 32] = [
    0x32, 0x43, 0xf6, 0xa8, 0x88, 0x5a, 0x30, 0x8d, 0x31, 0x31, 0x98, 0xa2, 0xe0, 0x37, 0x07, 0x34,
    0x4a, 0x40, 0x93, 0x82, 0x22, 0x99, 0xf3, 0x1d, 0x00, 0x82, 0xef, 0xa9, 0x8e, 0xc4, 0xe6, 0xc8,
];
/// Length of the file key `K`.
pub const KEY_LEN: usize = 32;
/// Length of the IV; the counter block is `IV ‖ 00000000`.
pub const IV_LEN: usize = 12;
/// Length of the HMAC-SHA256 tag.
pub const TAG_LEN: usize = 32;
/// `uint32 messageLength ‖ uint32 paddingLength`.
const TRAILER_LEN: usize = 8;
/// `messageLength` must be below 2^31.
pub const MESSAGE_LEN_LIMIT: u64 = 1 << 31;
/// Buffer size of the streaming interface.
const CHUNK_LEN: usize = 64 * 1024;

/// `(ciphertext, key, iv, tag)`.
type EncryptOut<'py> = (
    Bound<'py, PyBytes>,
    Bound<'py, PyBytes>,
    Bound<'py, PyBytes>,
    Bound<'py, PyBytes>,
);
/// `(key, iv, tag, message_length)`.
type EncryptPathOut<'py> = (
    Bound<'py, PyBytes>,
    Bound<'py, PyBytes>,
    Bound<'py, PyBytes>,
    u64,
);

/// Padmé (Nikitin et al., PETS 2019, "Reducing Metadata Leakage from Encrypted Files and
/// Communication with PURBs"): for `L >= 2`, `E = floor(log2 L)`, `S = floor(log2 E) + 1`,
/// and `L` is rounded up to a multiple of `2^(E - S)` when `E > S`. `None` on overflow.
pub fn padme(len: u64) -> Option<u64> {
    if len < 2 {
        return Some(len);
    }
    let e = len.ilog2();
    let s = e.ilog2() + 1;
    if e <= s {
        return Some(len);
    }
    let mask = (1u64 << (e - s)) - 1;
    len.checked_add(mask).map(|v| v & !mask)
}

fn too_long(message_len: u64) -> Error {
    Error::InvalidArgument(format!(
        "a file to encrypt must be shorter than 2^31 bytes, got {message_len} or more"
    ))
}

/// The padding length and total ciphertext length for a message of `message_len` bytes.
fn framing(message_len: u64) -> Result<(u64, u64)> {
    if message_len >= MESSAGE_LEN_LIMIT {
        return Err(too_long(message_len));
    }
    let padded = padme(message_len).ok_or_else(|| Error::Library("padme overflow".into()))?;
    Ok((padded - message_len, padded + TRAILER_LEN as u64))
}

fn trailer(message_len: u64, padding_len: u64) -> Result<[u8; TRAILER_LEN]> {
    let m = u32::try_from(message_len).map_err(|_| Error::Library("message length".into()))?;
    let p = u32::try_from(padding_len).map_err(|_| Error::Library("padding length".into()))?;
    let mut t = [0u8; TRAILER_LEN];
    t[..4].copy_from_slice(&m.to_be_bytes());
    t[4..].copy_from_slice(&p.to_be_bytes());
    Ok(t)
}

/// C.3 checks on the decrypted trailer, after the tag has been verified.
fn check_lengths(
    trailer: &[u8; TRAILER_LEN],
    ciphertext_len: u64,
    hint: Option<u64>,
) -> Result<u64> {
    let m = u64::from(u32::from_be_bytes([
        trailer[0], trailer[1], trailer[2], trailer[3],
    ]));
    let p = u64::from(u32::from_be_bytes([
        trailer[4], trailer[5], trailer[6], trailer[7],
    ]));
    let ok = m < MESSAGE_LEN_LIMIT
        && padme(m) == Some(m + p)
        && ciphertext_len == TRAILER_LEN as u64 + m + p
        && hint.is_none_or(|h| h == m);
    if ok {
        Ok(m)
    } else {
        Err(Error::FileIntegrity)
    }
}

/// `k_enc` and `k_hmac`, derived from `K` and the name (C.2), as AWS-LC keys: the AES-256
/// key schedule and the HMAC-SHA256 key.
struct FileKeys {
    enc: EncryptingKey,
    mac: hmac::Key,
}

impl FileKeys {
    fn derive(key: &[u8; KEY_LEN], info: &[u8]) -> Result<Self> {
        let prk = Zeroizing::new(crypto::hkdf_extract(HashType::Sha2_256, &PI_SALT, key));
        let okm = Zeroizing::new(
            crypto::hkdf_expand(HashType::Sha2_256, &prk, info, 64)
                .map_err(|_| Error::Library("HKDF-SHA256 expand".into()))?,
        );
        let enc = UnboundCipherKey::new(&AES_256, &okm[..32])
            .and_then(EncryptingKey::ctr)
            .map_err(|_| Error::Library("AES-256 key".into()))?;
        Ok(Self {
            enc,
            mac: hmac::Key::new(hmac::HMAC_SHA256, &okm[32..]),
        })
    }

    /// AES-256-CTR positioned at the start of the ciphertext.
    fn cipher(&self, iv: &[u8; IV_LEN]) -> Result<Ctr<'_>> {
        Ok(Ctr {
            key: &self.enc,
            iv: *iv,
            pos: 0,
        })
    }

    /// HMAC-SHA256 that has already absorbed the IV.
    fn mac(&self, iv: &[u8; IV_LEN]) -> Result<Mac> {
        let mut mac = Mac(hmac::Context::with_key(&self.mac));
        mac.update(iv);
        Ok(mac)
    }
}

/// AES-256-CTR (AWS-LC) over the counter blocks `IV ‖ uint32 block number` (C.2), from any
/// byte position. Messages are below 2^31 bytes, so the block number never leaves its 32
/// bits (AWS-LC increments the whole block; a carry out of them is refused here).
struct Ctr<'k> {
    key: &'k EncryptingKey,
    iv: [u8; IV_LEN],
    pos: u64,
}

impl Ctr<'_> {
    fn try_seek(&mut self, pos: u64) -> Result<()> {
        self.pos = pos;
        Ok(())
    }

    /// AES-CTR over `in_out`, which starts on a block boundary at `block`.
    fn run(&self, block: u64, in_out: &mut [u8]) -> Result<()> {
        let blocks = (in_out.len() as u64).div_ceil(16);
        let counter = u32::try_from(block)
            .ok()
            .filter(|_| block + blocks <= 1 << 32)
            .ok_or(Error::FileIntegrity)?;
        let mut counter_block = [0u8; 16];
        counter_block[..IV_LEN].copy_from_slice(&self.iv);
        counter_block[IV_LEN..].copy_from_slice(&counter.to_be_bytes());
        self.key
            .less_safe_encrypt(
                in_out,
                EncryptionContext::Iv128(FixedLength::from(counter_block)),
            )
            .map(|_| ())
            .map_err(|_| Error::Library("AES-256-CTR".into()))
    }

    /// Encrypt or decrypt `buf` at the current position, and move past it.
    fn apply(&mut self, buf: &mut [u8]) -> Result<()> {
        let mut buf = buf;
        let offset = (self.pos % 16) as usize;
        if offset != 0 && !buf.is_empty() {
            // The rest of a started block: run its counter block over a block-sized copy
            // with the bytes at their offset.
            let n = (16 - offset).min(buf.len());
            let mut block = Zeroizing::new([0u8; 16]);
            block[offset..offset + n].copy_from_slice(&buf[..n]);
            self.run(self.pos / 16, &mut block[..])?;
            buf[..n].copy_from_slice(&block[offset..offset + n]);
            self.pos += n as u64;
            buf = &mut buf[n..];
        }
        if !buf.is_empty() {
            self.run(self.pos / 16, buf)?;
            self.pos += buf.len() as u64;
        }
        Ok(())
    }
}

/// HMAC-SHA256 (AWS-LC), fed incrementally.
struct Mac(hmac::Context);

impl Mac {
    fn update(&mut self, data: &[u8]) {
        self.0.update(data);
    }

    fn finalize(self) -> [u8; TAG_LEN] {
        let mut tag = [0u8; TAG_LEN];
        tag.copy_from_slice(self.0.sign().as_ref());
        tag
    }
}

fn keystream(cipher: &mut Ctr<'_>, buf: &mut [u8]) -> Result<()> {
    cipher.apply(buf)
}

/// Constant-time comparison of the computed tag with the received one.
fn verify(mac: Mac, tag: &[u8]) -> Result<()> {
    let computed = mac.finalize();
    if bool::from(computed.as_slice().ct_eq(tag)) {
        Ok(())
    } else {
        Err(Error::FileIntegrity)
    }
}

// ---------------------------------------------------------------------------------------------
// In memory
// ---------------------------------------------------------------------------------------------

/// Length of the ciphertext of a `message_len`-byte message; `InvalidArgument` from 2^31 on.
pub fn ciphertext_len(message_len: usize) -> Result<usize> {
    let (_, total) = framing(message_len as u64)?;
    usize::try_from(total)
        .map_err(|_| Error::InvalidArgument("file too large for this platform".into()))
}

/// Encrypts `message` into `out` (exactly `ciphertext_len(message.len())` bytes) and returns
/// the tag.
pub fn encrypt_into(
    key: &[u8; KEY_LEN],
    iv: &[u8; IV_LEN],
    info: &[u8],
    message: &[u8],
    out: &mut [u8],
) -> Result<[u8; TAG_LEN]> {
    let m = message.len();
    let (p, total) = framing(m as u64)?;
    if out.len() as u64 != total {
        return Err(Error::Library(
            "ciphertext buffer of the wrong length".into(),
        ));
    }
    let trailer = trailer(m as u64, p)?;
    let (body, tail) = out.split_at_mut(out.len() - TRAILER_LEN);
    let (msg_out, pad_out) = body.split_at_mut(m);
    msg_out.copy_from_slice(message);
    pad_out.fill(0);
    tail.copy_from_slice(&trailer);

    let keys = FileKeys::derive(key, info)?;
    keystream(&mut keys.cipher(iv)?, out)?;
    let mut mac = keys.mac(iv)?;
    mac.update(out);
    Ok(mac.finalize())
}

/// An authenticated ciphertext whose lengths passed the C.3 checks.
pub struct Opened {
    keys: FileKeys,
    iv: [u8; IV_LEN],
    message_len: usize,
}

impl Opened {
    pub fn message_len(&self) -> usize {
        self.message_len
    }
}

/// C.3, first half: verifies the tag, then decrypts only the trailer and checks the lengths.
pub fn open(
    key: &[u8; KEY_LEN],
    iv: &[u8; IV_LEN],
    info: &[u8],
    ciphertext: &[u8],
    tag: &[u8],
    length_hint: Option<u64>,
) -> Result<Opened> {
    let keys = FileKeys::derive(key, info)?;
    let mut mac = keys.mac(iv)?;
    mac.update(ciphertext);
    verify(mac, tag)?;

    let n = ciphertext.len();
    if n < TRAILER_LEN {
        return Err(Error::FileIntegrity);
    }
    let mut t = [0u8; TRAILER_LEN];
    t.copy_from_slice(&ciphertext[n - TRAILER_LEN..]);
    let mut cipher = keys.cipher(iv)?;
    cipher
        .try_seek((n - TRAILER_LEN) as u64)
        .map_err(|_| Error::FileIntegrity)?;
    keystream(&mut cipher, &mut t)?;
    let m = check_lengths(&t, n as u64, length_hint)?;
    let message_len = usize::try_from(m).map_err(|_| Error::FileIntegrity)?;
    Ok(Opened {
        keys,
        iv: *iv,
        message_len,
    })
}

/// C.3, second half: decrypts the message of an [`open`]ed ciphertext into `out` (exactly
/// `message_len` bytes) and checks that the padding is all zero.
pub fn decrypt_into(opened: &Opened, ciphertext: &[u8], out: &mut [u8]) -> Result<()> {
    let m = opened.message_len;
    if out.len() != m || ciphertext.len() < m + TRAILER_LEN {
        return Err(Error::Library(
            "plaintext buffer of the wrong length".into(),
        ));
    }
    let mut cipher = opened.keys.cipher(&opened.iv)?;
    out.copy_from_slice(&ciphertext[..m]);
    keystream(&mut cipher, out)?;

    let mut scratch = Zeroizing::new([0u8; 1024]);
    let mut acc = 0u8;
    for chunk in ciphertext[m..ciphertext.len() - TRAILER_LEN].chunks(scratch.len()) {
        let s = &mut scratch[..chunk.len()];
        s.copy_from_slice(chunk);
        keystream(&mut cipher, s)?;
        acc |= s.iter().fold(0, |a, b| a | b);
    }
    if acc == 0 {
        Ok(())
    } else {
        Err(Error::FileIntegrity)
    }
}

// ---------------------------------------------------------------------------------------------
// Streaming, path to path
// ---------------------------------------------------------------------------------------------

/// An error of the streaming interface: a library error, or an IO error on a named path.
#[derive(Debug)]
pub enum StreamError {
    Crypto(Error),
    Io(io::Error, PathBuf),
}

type StreamResult<T> = std::result::Result<T, StreamError>;

impl From<Error> for StreamError {
    fn from(e: Error) -> Self {
        StreamError::Crypto(e)
    }
}

impl From<StreamError> for PyErr {
    fn from(e: StreamError) -> PyErr {
        match e {
            StreamError::Crypto(e) => e.into(),
            StreamError::Io(e, path) => os_error(e, path),
        }
    }
}

/// `OSError(errno, strerror, filename)`, which Python turns into the matching subclass
/// (`FileNotFoundError`, `PermissionError`, ...).
fn os_error(e: io::Error, path: PathBuf) -> PyErr {
    match e.raw_os_error() {
        Some(code) => {
            let text = e.to_string();
            let suffix = format!(" (os error {code})");
            let strerror = text.strip_suffix(&suffix).unwrap_or(&text).to_owned();
            PyOSError::new_err((code, strerror, OsString::from(path)))
        }
        None => PyOSError::new_err(format!("{}: {e}", path.display())),
    }
}

fn io_at(path: &Path) -> impl Fn(io::Error) -> StreamError + '_ {
    move |e| StreamError::Io(e, path.to_path_buf())
}

/// Reads as much as is available (at least one byte unless at end of file).
fn read_some(file: &mut File, buf: &mut [u8], path: &Path) -> StreamResult<usize> {
    loop {
        match file.read(buf) {
            Ok(n) => return Ok(n),
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return Err(StreamError::Io(e, path.to_path_buf())),
        }
    }
}

/// A temporary file next to the destination, removed on drop unless renamed onto it.
/// It is owner-only (mode 0600 on Unix, whatever the umask): it holds plaintext not yet
/// authenticated, and the file renamed onto the destination keeps that mode.
struct TempFile {
    path: PathBuf,
    file: Option<File>,
}

impl TempFile {
    fn create(dst: &Path) -> StreamResult<Self> {
        let name = dst.file_name().ok_or_else(|| {
            Error::InvalidArgument(format!(
                "destination {} does not name a file",
                dst.display()
            ))
        })?;
        let mut rnd = [0u8; 8];
        crypto::fill_random(&mut rnd[..])
            .map_err(|_| Error::Library("the random number generator failed".into()))?;
        let mut temp_name = OsString::from(".");
        temp_name.push(name);
        temp_name.push(format!(".{:016x}.part", u64::from_be_bytes(rnd)));
        let path = dst.with_file_name(temp_name);
        let mut options = OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let file = options.open(&path).map_err(io_at(dst))?;
        let temp = Self {
            path,
            file: Some(file),
        };
        // The mode given at creation is masked by the umask; this one is not.
        #[cfg(unix)]
        if let Some(f) = &temp.file {
            use std::os::unix::fs::PermissionsExt as _;
            f.set_permissions(fs::Permissions::from_mode(0o600))
                .map_err(io_at(dst))?;
        }
        Ok(temp)
    }

    fn write_all(&mut self, buf: &[u8], dst: &Path) -> StreamResult<()> {
        match self.file.as_mut() {
            Some(f) => f.write_all(buf).map_err(io_at(dst)),
            None => Err(Error::Library("temporary file already closed".into()).into()),
        }
    }

    /// Closes the file and renames it onto `dst`.
    fn persist(mut self, dst: &Path) -> StreamResult<()> {
        if let Some(mut f) = self.file.take() {
            f.flush().map_err(io_at(dst))?;
        }
        fs::rename(&self.path, dst).map_err(io_at(dst))?;
        // Renamed: nothing left to remove.
        self.path = PathBuf::new();
        Ok(())
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        drop(self.file.take());
        if !self.path.as_os_str().is_empty() {
            let _ = fs::remove_file(&self.path);
        }
    }
}

/// Encrypts the file `src` into `dst`; returns the tag and the message length.
pub fn encrypt_path(
    src: &Path,
    dst: &Path,
    key: &[u8; KEY_LEN],
    iv: &[u8; IV_LEN],
    info: &[u8],
) -> StreamResult<([u8; TAG_LEN], u64)> {
    let keys = FileKeys::derive(key, info)?;
    let mut cipher = keys.cipher(iv)?;
    let mut mac = keys.mac(iv)?;
    let mut input = File::open(src).map_err(io_at(src))?;
    let mut out = TempFile::create(dst)?;
    let mut buf = Zeroizing::new(vec![0u8; CHUNK_LEN]);

    let mut m: u64 = 0;
    loop {
        let n = read_some(&mut input, &mut buf, src)?;
        if n == 0 {
            break;
        }
        m += n as u64;
        if m >= MESSAGE_LEN_LIMIT {
            return Err(too_long(m).into());
        }
        let chunk = &mut buf[..n];
        keystream(&mut cipher, chunk)?;
        mac.update(chunk);
        out.write_all(chunk, dst)?;
    }

    let (p, _) = framing(m)?;
    let mut remaining = p;
    while remaining > 0 {
        let n = usize::try_from(remaining.min(CHUNK_LEN as u64))
            .map_err(|_| Error::Library("chunk length".into()))?;
        let chunk = &mut buf[..n];
        chunk.fill(0);
        keystream(&mut cipher, chunk)?;
        mac.update(chunk);
        out.write_all(chunk, dst)?;
        remaining -= n as u64;
    }
    let mut t = trailer(m, p)?;
    keystream(&mut cipher, &mut t)?;
    mac.update(&t);
    out.write_all(&t, dst)?;

    out.persist(dst)?;
    Ok((mac.finalize(), m))
}

/// Decrypts the file `src` into `dst`; returns the message length.
///
/// Pass one computes the tag over the whole file and compares it in constant time; only then
/// is the trailer decrypted and the lengths checked. Pass two decrypts into a temporary file
/// next to `dst`, checks the padding, and authenticates the bytes it read once more (so a file
/// changed between the passes is rejected); the temporary file is renamed onto `dst` only when
/// everything verified, and removed otherwise.
pub fn decrypt_path(
    src: &Path,
    dst: &Path,
    key: &[u8; KEY_LEN],
    iv: &[u8; IV_LEN],
    info: &[u8],
    tag: &[u8],
    length_hint: Option<u64>,
) -> StreamResult<u64> {
    let keys = FileKeys::derive(key, info)?;
    let mut input = File::open(src).map_err(io_at(src))?;
    let mut buf = Zeroizing::new(vec![0u8; CHUNK_LEN]);

    // Pass one: authenticate.
    let mut mac = keys.mac(iv)?;
    let mut n_total: u64 = 0;
    loop {
        let n = read_some(&mut input, &mut buf, src)?;
        if n == 0 {
            break;
        }
        n_total += n as u64;
        mac.update(&buf[..n]);
    }
    verify(mac, tag)?;

    // The trailer, then the length checks, before anything is written.
    if n_total < TRAILER_LEN as u64 || n_total > MESSAGE_LEN_LIMIT * 2 + TRAILER_LEN as u64 {
        return Err(Error::FileIntegrity.into());
    }
    let trailer_pos = n_total - TRAILER_LEN as u64;
    let mut t = [0u8; TRAILER_LEN];
    input
        .seek(SeekFrom::Start(trailer_pos))
        .map_err(io_at(src))?;
    input.read_exact(&mut t).map_err(|e| match e.kind() {
        ErrorKind::UnexpectedEof => Error::FileIntegrity.into(),
        _ => StreamError::Io(e, src.to_path_buf()),
    })?;
    let mut cipher = keys.cipher(iv)?;
    cipher
        .try_seek(trailer_pos)
        .map_err(|_| Error::FileIntegrity)?;
    keystream(&mut cipher, &mut t)?;
    let m = check_lengths(&t, n_total, length_hint)?;

    // Pass two: decrypt, check the padding, authenticate again.
    input.seek(SeekFrom::Start(0)).map_err(io_at(src))?;
    let mut cipher = keys.cipher(iv)?;
    let mut mac = keys.mac(iv)?;
    let mut out = TempFile::create(dst)?;
    let mut pos: u64 = 0;
    let mut padding_acc = 0u8;
    while pos < n_total {
        let want = usize::try_from((n_total - pos).min(CHUNK_LEN as u64))
            .map_err(|_| Error::Library("chunk length".into()))?;
        let n = read_some(&mut input, &mut buf[..want], src)?;
        if n == 0 {
            // The file shrank between the passes.
            return Err(Error::FileIntegrity.into());
        }
        let chunk = &mut buf[..n];
        mac.update(chunk);
        keystream(&mut cipher, chunk)?;
        // The part of this chunk that belongs to the message, then the padding.
        let msg_end = usize::try_from(m.saturating_sub(pos).min(n as u64))
            .map_err(|_| Error::Library("chunk length".into()))?;
        let pad_end = usize::try_from(trailer_pos.saturating_sub(pos).min(n as u64))
            .map_err(|_| Error::Library("chunk length".into()))?;
        out.write_all(&chunk[..msg_end], dst)?;
        if pad_end > msg_end {
            padding_acc |= chunk[msg_end..pad_end].iter().fold(0, |a, b| a | b);
        }
        pos += n as u64;
    }
    if read_some(&mut input, &mut buf[..1], src)? != 0 {
        // The file grew between the passes.
        return Err(Error::FileIntegrity.into());
    }
    verify(mac, tag)?;
    if padding_acc != 0 {
        return Err(Error::FileIntegrity.into());
    }
    out.persist(dst)?;
    Ok(m)
}

// ---------------------------------------------------------------------------------------------
// Python
// ---------------------------------------------------------------------------------------------

/// Any bytes-like object, as immutable bytes that may be read without the GIL: `bytes` is
/// shared, `bytearray` and other buffers (`memoryview`, `array`, ...) are copied.
fn bytes_like(obj: &Bound<'_, PyAny>, what: &str) -> PyResult<PyBackedBytes> {
    if let Ok(b) = obj.cast::<PyBytes>() {
        return Ok(PyBackedBytes::from(b.clone()));
    }
    if let Ok(b) = obj.cast::<PyByteArray>() {
        return Ok(PyBackedBytes::from(b.clone()));
    }
    match PyMemoryView::from(obj) {
        Ok(view) => Ok(PyBackedBytes::from(
            view.call_method0("tobytes")?.cast_into::<PyBytes>()?,
        )),
        Err(_) => Err(PyTypeError::new_err(format!(
            "{what}: expected a bytes-like object, got {}",
            obj.get_type().name()?
        ))),
    }
}

/// A key or IV of exactly `N` bytes, copied into memory that is wiped on drop.
fn fixed<const N: usize>(obj: &Bound<'_, PyAny>, what: &str) -> PyResult<Zeroizing<[u8; N]>> {
    let mut out = Zeroizing::new([0u8; N]);
    let copy = |src: &[u8], out: &mut [u8; N]| -> PyResult<()> {
        if src.len() != N {
            return Err(Error::InvalidArgument(format!(
                "{what} must be {N} bytes long, got {}",
                src.len()
            ))
            .into());
        }
        out.copy_from_slice(src);
        Ok(())
    };
    if let Ok(b) = obj.cast::<PyBytes>() {
        copy(b.as_bytes(), &mut out)?;
    } else if let Ok(b) = obj.cast::<PyByteArray>() {
        let v = Zeroizing::new(b.to_vec());
        copy(&v, &mut out)?;
    } else {
        copy(&bytes_like(obj, what)?, &mut out)?;
    }
    Ok(out)
}

/// The given key or IV, or a fresh random one.
fn fixed_or_random<const N: usize>(
    obj: Option<&Bound<'_, PyAny>>,
    what: &str,
) -> PyResult<Zeroizing<[u8; N]>> {
    match obj {
        Some(o) if !o.is_none() => fixed(o, what),
        _ => {
            let mut out = Zeroizing::new([0u8; N]);
            crypto::fill_random(&mut out[..])
                .map_err(|_| Error::Library("the random number generator failed".into()))?;
            Ok(out)
        }
    }
}

/// Padmé length of `length` bytes (RCC.16 Annex C padding).
#[pyfunction]
#[pyo3(name = "padme")]
fn py_padme(length: u64) -> PyResult<u64> {
    padme(length)
        .ok_or_else(|| Error::InvalidArgument(format!("length {length} is too large")).into())
}

/// Encrypts `data` (RCC.16 Annex C). Returns `(ciphertext, key, iv, tag)`.
#[pyfunction]
#[pyo3(signature = (data, info, key=None, iv=None))]
fn file_encrypt<'py>(
    py: Python<'py>,
    data: &Bound<'py, PyAny>,
    info: &str,
    key: Option<&Bound<'py, PyAny>>,
    iv: Option<&Bound<'py, PyAny>>,
) -> PyResult<EncryptOut<'py>> {
    let data = bytes_like(data, "data")?;
    let key = fixed_or_random::<KEY_LEN>(key, "key")?;
    let iv = fixed_or_random::<IV_LEN>(iv, "iv")?;
    let total = ciphertext_len(data.len())?;
    let mut tag = [0u8; TAG_LEN];
    let ciphertext = PyBytes::new_with(py, total, |out| {
        // The new bytes object is not shared yet: it may be filled without the GIL.
        tag = detach(py, || encrypt_into(&key, &iv, info.as_bytes(), &data, out))?;
        Ok(())
    })?;
    Ok((
        ciphertext,
        PyBytes::new(py, key.as_ref()),
        PyBytes::new(py, iv.as_ref()),
        PyBytes::new(py, &tag),
    ))
}

/// Decrypts `ciphertext` (RCC.16 Annex C.3). Raises `FileIntegrityError` on any failure.
#[pyfunction]
#[pyo3(signature = (ciphertext, info, key, iv, tag, length_hint=None))]
fn file_decrypt<'py>(
    py: Python<'py>,
    ciphertext: &Bound<'py, PyAny>,
    info: &str,
    key: &Bound<'py, PyAny>,
    iv: &Bound<'py, PyAny>,
    tag: &Bound<'py, PyAny>,
    length_hint: Option<u64>,
) -> PyResult<Bound<'py, PyBytes>> {
    let ciphertext = bytes_like(ciphertext, "ciphertext")?;
    let key = fixed::<KEY_LEN>(key, "key")?;
    let iv = fixed::<IV_LEN>(iv, "iv")?;
    let tag = bytes_like(tag, "tag")?;
    let opened = detach(py, || {
        open(&key, &iv, info.as_bytes(), &ciphertext, &tag, length_hint)
    })?;
    PyBytes::new_with(py, opened.message_len(), |out| {
        // The new bytes object is not shared yet: it may be filled without the GIL.
        detach(py, || decrypt_into(&opened, &ciphertext, out))?;
        Ok(())
    })
}

/// Encrypts the file `src` into `dst`. Returns `(key, iv, tag, message_length)`.
#[pyfunction]
#[pyo3(signature = (src, dst, info, key=None, iv=None))]
fn file_encrypt_path<'py>(
    py: Python<'py>,
    src: PathBuf,
    dst: PathBuf,
    info: &str,
    key: Option<&Bound<'py, PyAny>>,
    iv: Option<&Bound<'py, PyAny>>,
) -> PyResult<EncryptPathOut<'py>> {
    let key = fixed_or_random::<KEY_LEN>(key, "key")?;
    let iv = fixed_or_random::<IV_LEN>(iv, "iv")?;
    let (tag, m) = detach(py, || encrypt_path(&src, &dst, &key, &iv, info.as_bytes()))?;
    Ok((
        PyBytes::new(py, key.as_ref()),
        PyBytes::new(py, iv.as_ref()),
        PyBytes::new(py, &tag),
        m,
    ))
}

/// Decrypts the file `src` into `dst` (RCC.16 Annex C.3). Returns the message length.
#[pyfunction]
#[pyo3(signature = (src, dst, info, key, iv, tag, length_hint=None))]
#[allow(clippy::too_many_arguments)]
fn file_decrypt_path(
    py: Python<'_>,
    src: PathBuf,
    dst: PathBuf,
    info: &str,
    key: &Bound<'_, PyAny>,
    iv: &Bound<'_, PyAny>,
    tag: &Bound<'_, PyAny>,
    length_hint: Option<u64>,
) -> PyResult<u64> {
    let key = fixed::<KEY_LEN>(key, "key")?;
    let iv = fixed::<IV_LEN>(iv, "iv")?;
    let tag = bytes_like(tag, "tag")?;
    Ok(detach(py, || {
        decrypt_path(&src, &dst, &key, &iv, info.as_bytes(), &tag, length_hint)
    })?)
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("FILE_HKDF_SALT", PyBytes::new(m.py(), &PI_SALT))?;
    m.add_function(wrap_pyfunction!(py_padme, m)?)?;
    m.add_function(wrap_pyfunction!(file_encrypt, m)?)?;
    m.add_function(wrap_pyfunction!(file_decrypt, m)?)?;
    m.add_function(wrap_pyfunction!(file_encrypt_path, m)?)?;
    m.add_function(wrap_pyfunction!(file_decrypt_path, m)?)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: [u8; KEY_LEN] = {
        let mut k = [0u8; KEY_LEN];
        let mut i = 0;
        while i < KEY_LEN {
            k[i] = i as u8;
            i += 1;
        }
        k
    };
    const IV: [u8; IV_LEN] = [
        0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8, 0xa9, 0xaa, 0xab,
    ];

    /// In-memory decryption into a fresh vector.
    fn decrypt(
        key: &[u8; KEY_LEN],
        iv: &[u8; IV_LEN],
        info: &[u8],
        ciphertext: &[u8],
        tag: &[u8],
        length_hint: Option<u64>,
    ) -> Result<Vec<u8>> {
        let opened = open(key, iv, info, ciphertext, tag, length_hint)?;
        let mut out = vec![0u8; opened.message_len];
        decrypt_into(&opened, ciphertext, &mut out)?;
        Ok(out)
    }

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap_or_default())
            .collect()
    }

    fn seal(info: &str, msg: &[u8]) -> Result<(Vec<u8>, [u8; TAG_LEN])> {
        let mut out = vec![0u8; ciphertext_len(msg.len())?];
        let tag = encrypt_into(&KEY, &IV, info.as_bytes(), msg, &mut out)?;
        Ok((out, tag))
    }

    /// Seals an arbitrary plaintext (valid tag, whatever the framing) for the C.3 checks.
    fn seal_raw(info: &str, plaintext: &[u8]) -> Result<(Vec<u8>, [u8; TAG_LEN])> {
        let keys = FileKeys::derive(&KEY, info.as_bytes())?;
        let mut ct = plaintext.to_vec();
        keystream(&mut keys.cipher(&IV)?, &mut ct)?;
        let mut mac = keys.mac(&IV)?;
        mac.update(&ct);
        Ok((ct, mac.finalize()))
    }

    fn tmp(name: &str) -> PathBuf {
        let mut rnd = [0u8; 8];
        let _ = crypto::fill_random(&mut rnd[..]);
        let dir =
            std::env::temp_dir().join(format!("filecrypt-test-{:016x}", u64::from_be_bytes(rnd)));
        let _ = fs::create_dir_all(&dir);
        dir.join(name)
    }

    fn entries(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(dir)
            .map(|r| {
                r.filter_map(|e| e.ok())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        v.sort();
        v
    }

    #[test]
    fn padme_known_values() {
        let cases = [
            (0, 0),
            (1, 1),
            (2, 2),
            (3, 3),
            (8, 8),
            (9, 10),
            (17, 18),
            (100, 104),
            (129, 144),
            (1000, 1024),
            (1025, 1088),
            ((1 << 31) - 1, 1 << 31),
        ];
        for (l, want) in cases {
            assert_eq!(padme(l), Some(want), "padme({l})");
        }
        assert_eq!(padme(u64::MAX), None);
    }

    #[test]
    fn padme_bounds() {
        for l in 2u64..5000 {
            let p = padme(l).unwrap_or(0);
            let e = l.ilog2();
            let s = e.ilog2() + 1;
            let step = if e > s { 1u64 << (e - s) } else { 1 };
            assert!(
                p >= l && p - l < step && p.is_multiple_of(step),
                "padme({l}) = {p}"
            );
            assert!((p - l) * 100 <= 12 * l, "overhead of padme({l})");
        }
    }

    #[test]
    fn known_answer() -> Result<()> {
        // Computed independently with pyca/cryptography (HKDF, AES-CTR, HMAC).
        let (ct, tag) = seal("test.txt", b"hello world")?;
        assert_eq!(ct, hex("8209bccc96870e18b0625aeec4eecdb1a218b4d3"));
        assert_eq!(
            tag.to_vec(),
            hex("ce2e4573d373f570ad4aa0ce9e87a6a17cb94891ad03ec43dcbf58ca33b3e414")
        );

        let mut msg: Vec<u8> = (0..=255u8).cycle().take(768).collect();
        msg.push(b'x');
        let (ct, tag) = seal("group_icon", &msg)?;
        assert_eq!(ct.len(), 808);
        assert_eq!(
            tag.to_vec(),
            hex("59985ae4dbde1cbf963b88e09124b7c2b07345f29db30bca1bb4c323da049a52")
        );
        Ok(())
    }

    #[test]
    fn round_trip_sizes() -> Result<()> {
        for len in [
            0usize, 1, 2, 7, 8, 9, 16, 17, 100, 1000, 1025, 4095, 4096, 70_000,
        ] {
            let msg: Vec<u8> = (0..len).map(|i| (i * 7 + 3) as u8).collect();
            let (ct, tag) = seal("photo.jpg", &msg)?;
            assert_eq!(ct.len() as u64, padme(len as u64).unwrap_or(0) + 8);
            assert_eq!(decrypt(&KEY, &IV, b"photo.jpg", &ct, &tag, None)?, msg);
            assert_eq!(
                decrypt(&KEY, &IV, b"photo.jpg", &ct, &tag, Some(len as u64))?,
                msg
            );
        }
        Ok(())
    }

    #[test]
    fn tampering_is_rejected() -> Result<()> {
        let msg = b"some file contents, long enough to be padded".to_vec();
        let (ct, tag) = seal("a.txt", &msg)?;
        for i in 0..ct.len() {
            let mut bad = ct.clone();
            bad[i] ^= 1;
            assert_eq!(
                decrypt(&KEY, &IV, b"a.txt", &bad, &tag, None),
                Err(Error::FileIntegrity)
            );
        }
        for i in 0..TAG_LEN {
            let mut bad = tag;
            bad[i] ^= 0x80;
            assert_eq!(
                decrypt(&KEY, &IV, b"a.txt", &ct, &bad, None),
                Err(Error::FileIntegrity)
            );
        }
        let mut bad_iv = IV;
        bad_iv[11] ^= 1;
        assert_eq!(
            decrypt(&KEY, &bad_iv, b"a.txt", &ct, &tag, None),
            Err(Error::FileIntegrity)
        );
        let mut bad_key = KEY;
        bad_key[0] ^= 1;
        assert_eq!(
            decrypt(&bad_key, &IV, b"a.txt", &ct, &tag, None),
            Err(Error::FileIntegrity)
        );
        assert_eq!(
            decrypt(&KEY, &IV, b"b.txt", &ct, &tag, None),
            Err(Error::FileIntegrity)
        );
        assert_eq!(
            decrypt(&KEY, &IV, b"a.txt", &ct[..ct.len() - 1], &tag, None),
            Err(Error::FileIntegrity)
        );
        assert_eq!(
            decrypt(&KEY, &IV, b"a.txt", &ct, &tag[..31], None),
            Err(Error::FileIntegrity)
        );
        assert_eq!(
            decrypt(&KEY, &IV, b"a.txt", &ct, &tag, Some(msg.len() as u64 + 1)),
            Err(Error::FileIntegrity)
        );
        assert_eq!(
            decrypt(&KEY, &IV, b"a.txt", &[], &tag, None),
            Err(Error::FileIntegrity)
        );
        Ok(())
    }

    #[test]
    fn authentic_but_malformed_is_rejected() -> Result<()> {
        let framed = |msg: &[u8], pad: &[u8], m: u32, p: u32| {
            let mut v = msg.to_vec();
            v.extend_from_slice(pad);
            v.extend_from_slice(&m.to_be_bytes());
            v.extend_from_slice(&p.to_be_bytes());
            v
        };
        // Sanity: a well-formed frame built by hand decrypts.
        let (ct, tag) = seal_raw("x", &framed(&[5; 9], &[0], 9, 1))?;
        assert_eq!(decrypt(&KEY, &IV, b"x", &ct, &tag, None)?, vec![5; 9]);
        let bad = [
            framed(&[5; 9], &[1], 9, 1),       // non-zero padding
            framed(&[5; 9], &[], 9, 0),        // Padmé relation broken (too little padding)
            framed(&[5; 9], &[0, 0, 0], 9, 3), // Padmé relation broken (too much)
            framed(&[5; 9], &[0], 8, 0), // lengths disagree with the ciphertext (padme(8) = 8)
            framed(&[5; 9], &[0], 9, 2), // lengths disagree with the ciphertext
            framed(&[], &[], 0x8000_0000, 0), // messageLength >= 2^31
            vec![0; 7],                  // shorter than the trailer
        ];
        for plaintext in bad {
            let (ct, tag) = seal_raw("x", &plaintext)?;
            assert_eq!(
                decrypt(&KEY, &IV, b"x", &ct, &tag, None),
                Err(Error::FileIntegrity)
            );
        }
        Ok(())
    }

    #[test]
    fn too_long_is_an_invalid_argument() {
        assert!(matches!(
            ciphertext_len(1 << 31),
            Err(Error::InvalidArgument(_))
        ));
        assert!(ciphertext_len((1 << 31) - 1).is_ok());
    }

    #[test]
    fn streaming_matches_in_memory() -> StreamResult<()> {
        for len in [
            0usize,
            1,
            9,
            CHUNK_LEN - 1,
            CHUNK_LEN,
            CHUNK_LEN + 9,
            3 * CHUNK_LEN + 12345,
        ] {
            let msg: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
            let src = tmp("plain.bin");
            let dir = src.parent().map(Path::to_path_buf).unwrap_or_default();
            let enc = dir.join("enc.bin");
            let dec = dir.join("dec.bin");
            fs::write(&src, &msg).map_err(io_at(&src))?;
            let (tag, m) = encrypt_path(&src, &enc, &KEY, &IV, b"plain.bin")?;
            assert_eq!(m, len as u64);
            let (ct, tag2) = seal("plain.bin", &msg)?;
            assert_eq!(fs::read(&enc).map_err(io_at(&enc))?, ct);
            assert_eq!(tag, tag2);
            assert_eq!(
                decrypt_path(&enc, &dec, &KEY, &IV, b"plain.bin", &tag, Some(m))?,
                m
            );
            assert_eq!(fs::read(&dec).map_err(io_at(&dec))?, msg);
            assert_eq!(entries(&dir), vec!["dec.bin", "enc.bin", "plain.bin"]);
            let _ = fs::remove_dir_all(&dir);
        }
        Ok(())
    }

    #[test]
    fn streaming_rejects_and_leaves_nothing() -> StreamResult<()> {
        let msg = vec![42u8; CHUNK_LEN + 100];
        let src = tmp("plain.bin");
        let dir = src.parent().map(Path::to_path_buf).unwrap_or_default();
        let enc = dir.join("enc.bin");
        let dec = dir.join("dec.bin");
        fs::write(&src, &msg).map_err(io_at(&src))?;
        let (tag, m) = encrypt_path(&src, &enc, &KEY, &IV, b"n")?;
        let ct = fs::read(&enc).map_err(io_at(&enc))?;

        let check = |res: StreamResult<u64>| {
            assert!(matches!(
                res,
                Err(StreamError::Crypto(Error::FileIntegrity))
            ));
            assert_eq!(entries(&dir), vec!["enc.bin", "plain.bin"]);
        };
        check(decrypt_path(&enc, &dec, &KEY, &IV, b"other", &tag, None));
        check(decrypt_path(&enc, &dec, &KEY, &IV, b"n", &tag, Some(m - 1)));
        let mut bad_tag = tag;
        bad_tag[5] ^= 4;
        check(decrypt_path(&enc, &dec, &KEY, &IV, b"n", &bad_tag, None));
        for i in [0, CHUNK_LEN, ct.len() - 1] {
            let mut bad = ct.clone();
            bad[i] ^= 1;
            fs::write(&enc, &bad).map_err(io_at(&enc))?;
            check(decrypt_path(&enc, &dec, &KEY, &IV, b"n", &tag, None));
        }
        fs::write(&enc, &ct[..ct.len() - 1]).map_err(io_at(&enc))?;
        check(decrypt_path(&enc, &dec, &KEY, &IV, b"n", &tag, None));

        let missing = dir.join("missing.bin");
        let res = decrypt_path(&missing, &dec, &KEY, &IV, b"n", &tag, None);
        assert!(matches!(res, Err(StreamError::Io(ref e, _)) if e.kind() == ErrorKind::NotFound));
        let res = encrypt_path(&missing, &dec, &KEY, &IV, b"n");
        assert!(matches!(res, Err(StreamError::Io(ref e, _)) if e.kind() == ErrorKind::NotFound));
        assert_eq!(entries(&dir), vec!["enc.bin", "plain.bin"]);
        let _ = fs::remove_dir_all(&dir);
        Ok(())
    }
}
