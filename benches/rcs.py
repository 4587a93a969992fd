"""``python -m benches.rcs``: the RCS layer's costs, beside a reference.

* **File encryption** (RCC.16 Annex C: HKDF-SHA256, Padmé, AES-256-CTR, HMAC-SHA256),
  MB/s of plaintext for 1 MiB and 100 MiB: :mod:`rcs_mls.rcs.filecrypt` (Rust, GIL
  released) against the same construction written in Python over the ``cryptography``
  package (OpenSSL), in memory and streamed file to file, on one thread and on two
  threads at once (which only scales if the GIL is released). Target: at least 0.9x.
* **A text message through the whole stack**: ``Conversation.send_text`` on one device,
  ``Conversation.receive`` on another (CPIM, authenticated data, SecretPayload with its
  generation, MLS), messages per second, beside bare MLS (``Group.encrypt`` and
  ``process_message``) to show what the RCS framing adds.
* **Parser limits** (issue #11): how long the RCS parsers take to refuse hostile inputs
  of about 1 MB (200,000 CPIM headers, one 1 MB header line, a 1 MB IMDN, a 1 MB base64
  header value), in milliseconds, beside the time to parse an ordinary message. Without
  the limits the 200,000 headers took about 2 s.

Not part of the test command (``tests/rcs/test_conversation_bench.py`` runs it once on
tiny sizes).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import hashes, hmac
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from benches import warn_if_debug_build
from rcs_mls import Credential, SignatureKeyPair
from rcs_mls.exceptions import CpimParseError, ImdnParseError, ParseError
from rcs_mls.rcs import filecrypt, profile
from rcs_mls.rcs.conversation import Conversation, TextMessage, client_for_device
from rcs_mls.rcs.cpim import NS_MLS, CpimHeader, CpimMessage
from rcs_mls.rcs.credentials import TestCertificateAuthority
from rcs_mls.rcs.imdn import Imdn

MIB = 1024 * 1024
_CHUNK = 1 << 20


@dataclass(frozen=True)
class Row:
    """One measurement: ``rcs_mls`` and ``reference`` in ``unit`` (higher is better);
    ``ratio`` is rcs_mls / reference."""

    operation: str
    size: int
    rcs_mls: float
    reference: float | None
    unit: str

    @property
    def ratio(self) -> float | None:
        return None if not self.reference else self.rcs_mls / self.reference


# --- Annex C with the cryptography package (the reference) ---------------------------------


def _keys(key: bytes, name: str) -> tuple[bytes, bytes]:
    okm = HKDF(hashes.SHA256(), 64, filecrypt.PI_SALT, name.encode()).derive(key)
    return okm[:32], okm[32:]


def _trailer(length: int) -> bytes:
    padding = filecrypt.padme(length) - length
    return bytes(padding) + length.to_bytes(4, "big") + padding.to_bytes(4, "big")


def reference_encrypt(data: bytes, name: str) -> tuple[bytes, bytes, bytes, bytes]:
    """Annex C in memory with ``cryptography``: ``(ciphertext, key, iv, tag)``."""
    key, iv = os.urandom(32), os.urandom(12)
    k_enc, k_mac = _keys(key, name)
    encryptor = Cipher(algorithms.AES(k_enc), modes.CTR(iv + bytes(4))).encryptor()
    ciphertext = encryptor.update(data) + encryptor.update(_trailer(len(data)))
    mac = hmac.HMAC(k_mac, hashes.SHA256())
    mac.update(iv)
    mac.update(ciphertext)
    return ciphertext, key, iv, mac.finalize()


def reference_decrypt(ciphertext: bytes, name: str, key: bytes, iv: bytes, tag: bytes) -> bytes:
    """Annex C decryption with ``cryptography`` (tag first, then the C.3 checks)."""
    k_enc, k_mac = _keys(key, name)
    mac = hmac.HMAC(k_mac, hashes.SHA256())
    mac.update(iv)
    mac.update(ciphertext)
    mac.verify(tag)
    plain = Cipher(algorithms.AES(k_enc), modes.CTR(iv + bytes(4))).decryptor().update(ciphertext)
    length = int.from_bytes(plain[-8:-4], "big")
    padding = int.from_bytes(plain[-4:], "big")
    if length + padding + 8 != len(plain) or any(plain[length:-8]):
        raise ValueError("bad padding")
    return plain[:length]


def reference_encrypt_file(src: Path, dst: Path, name: str) -> bytes:
    """Annex C streamed file to file with ``cryptography``; returns the tag."""
    key, iv = os.urandom(32), os.urandom(12)
    k_enc, k_mac = _keys(key, name)
    encryptor = Cipher(algorithms.AES(k_enc), modes.CTR(iv + bytes(4))).encryptor()
    mac = hmac.HMAC(k_mac, hashes.SHA256())
    mac.update(iv)
    length = 0
    with src.open("rb") as fin, dst.open("wb") as fout:
        while chunk := fin.read(_CHUNK):
            length += len(chunk)
            out = encryptor.update(chunk)
            mac.update(out)
            fout.write(out)
        out = encryptor.update(_trailer(length)) + encryptor.finalize()
        mac.update(out)
        fout.write(out)
    return mac.finalize()


# --- timing ----------------------------------------------------------------------------------


def _best(fn: Callable[[], object], runs: int) -> float:
    """The median time of ``fn`` over ``runs`` (seconds)."""
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def _threads(fn: Callable[[], object], count: int) -> Callable[[], None]:
    def run_all() -> None:
        workers = [threading.Thread(target=fn) for _ in range(count)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()

    return run_all


def file_rows(size: int, runs: int, directory: Path) -> list[Row]:
    """Throughput (MB/s of plaintext) of Annex C file encryption at ``size`` bytes."""
    data = os.urandom(size)
    name = "photo.jpg"
    mb = size / 1e6
    rows = []

    ours = _best(lambda: filecrypt.encrypt(data, name), runs)
    ref = _best(lambda: reference_encrypt(data, name), runs)
    rows.append(Row("encrypt, in memory", size, mb / ours, mb / ref, "MB/s"))

    ciphertext, key = filecrypt.encrypt(data, name)
    if reference_decrypt(ciphertext, name, key.key, key.iv, key.tag) != data:
        raise AssertionError("the reference does not read what filecrypt wrote")
    ours = _best(lambda: filecrypt.decrypt(ciphertext, name, key), runs)
    ref = _best(lambda: reference_decrypt(ciphertext, name, key.key, key.iv, key.tag), runs)
    rows.append(Row("decrypt, in memory", size, mb / ours, mb / ref, "MB/s"))

    src, dst = directory / "plain.bin", directory / "cipher.bin"
    src.write_bytes(data)
    ours = _best(lambda: filecrypt.encrypt_file(src, dst, name), runs)
    ref = _best(lambda: reference_encrypt_file(src, dst, name), runs)
    rows.append(Row("encrypt, file to file", size, mb / ours, mb / ref, "MB/s"))

    threads = 2
    ours = _best(_threads(lambda: filecrypt.encrypt(data, name), threads), runs)
    ref = _best(_threads(lambda: reference_encrypt(data, name), threads), runs)
    rows.append(
        Row(
            f"encrypt, {threads} threads at once",
            size,
            threads * mb / ours,
            threads * mb / ref,
            "MB/s",
        )
    )
    return rows


def message_rows(messages: int) -> list[Row]:
    """Text messages per second through the whole stack, and through bare MLS."""
    ca = TestCertificateAuthority.generate(name="bench")
    clients = []
    for number in ("+15550100001", "+15550100002"):
        keys = SignatureKeyPair.generate(profile.SUITE)
        chain = ca.issue_device_certificate(number, keys.public_key)
        clients.append(client_for_device(Credential.x509(chain), keys))
    anchors = [ca.certificate_der]
    alice, commit = Conversation.start(
        clients[0], [clients[1].generate_key_package()], trust_anchors=anchors
    )
    del commit
    (welcome,) = alice.commit_accepted()
    bob = Conversation.join(clients[1], welcome.cpim, trust_anchors=anchors)
    text = "x" * 100

    def rcs() -> None:
        for _ in range(messages):
            event = bob.receive(alice.send_text(text).cpim)
            if not isinstance(event, TextMessage):
                raise AssertionError(f"not delivered: {event}")

    def mls() -> None:
        payload = text.encode()
        for _ in range(messages):
            bob.group.process_message(alice.group.encrypt(payload))

    ours = _best(rcs, 3)
    bare = _best(mls, 3)
    return [
        Row(
            "100-char text, send + receive (RCS stack)",
            100,
            messages / ours,
            messages / bare,
            "msg/s",
        )
    ]


# --- parser limits ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Rejection:
    """How long a parser takes to refuse one hostile input (median, milliseconds), and the
    time to parse an ordinary input of the same format, for scale."""

    input: str
    size: int
    milliseconds: float
    error: str
    ordinary_milliseconds: float


_ORDINARY_CPIM = (
    b"From: <sip:anonymous@anonymous.invalid>\r\n"
    b"To: <sip:anonymous@anonymous.invalid>\r\n"
    b"NS: imdn <urn:ietf:params:imdn>\r\n"
    b"NS: mls <http://www.gsma.com/rcs/mls>\r\n"
    b"imdn.Message-ID: Mx3q0b1c2d3e4f5g\r\n"
    b"DateTime: 2026-05-19T10:00:00.000Z\r\n"
    b"mls.Era-ID: 0\r\n"
    b"mls.Epoch-Authenticator: AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\r\n"
    b"\r\n"
    b"Content-Type: message/mls\r\n"
    b"Content-Length: 200\r\n"
    b"\r\n" + bytes(200)
)
_ORDINARY_IMDN = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n<imdn xmlns="urn:ietf:params:xml:ns:imdn">'
    b"<message-id>Mx3q0b1c2d3e4f5g</message-id><datetime>2026-05-19T10:00:00Z</datetime>"
    b"<delivery-notification><status><delivered/></status></delivery-notification></imdn>"
)


def _signature_header(value: str) -> CpimMessage:
    return CpimMessage(
        (
            CpimHeader("NS", f"mls <{NS_MLS}>"),
            CpimHeader("mls.MLS-Derived-Content-Signature", value),
        )
    )


def hostile_inputs() -> list[tuple[str, int, Callable[[], object], Callable[[], object]]]:
    """The hostile inputs of the parser-limit benchmark: ``(name, size, refuse, ordinary)``,
    where ``refuse`` must raise a ParseError and ``ordinary`` parses a normal input."""
    many_headers = b"s: x\r\n" * 200_000 + b"\r\nContent-Type: message/mls\r\n\r\n"
    long_line = b"Subject: " + b"x" * 1_000_000 + b"\r\n\r\nContent-Type: message/mls\r\n\r\n"
    signature_line = (
        b"NS: mls <http://www.gsma.com/rcs/mls>\r\nmls.MLS-Derived-Content-Signature: "
        + b"QUJD" * 250_000
        + b"\r\n\r\nContent-Type: message/mls\r\n\r\n"
    )
    big_imdn = _ORDINARY_IMDN.replace(
        b"</datetime>", b"</datetime><subject>" + b"x" * 1_000_000 + b"</subject>"
    )
    built = _signature_header("QUJD" * 250_000)
    ordinary_built = _signature_header("QUJD" * 100)

    def cpim() -> CpimMessage:
        return CpimMessage.from_bytes(_ORDINARY_CPIM)

    def imdn() -> Imdn:
        return Imdn.from_bytes(_ORDINARY_IMDN)

    def signature() -> bytes | None:
        return ordinary_built.header_base64("MLS-Derived-Content-Signature", NS_MLS)

    return [
        (
            "CPIM, 200,000 headers",
            len(many_headers),
            lambda: CpimMessage.from_bytes(many_headers),
            cpim,
        ),
        (
            "CPIM, one 1 MB header line",
            len(long_line),
            lambda: CpimMessage.from_bytes(long_line),
            cpim,
        ),
        (
            "CPIM, a 1 MB base64 header line",
            len(signature_line),
            lambda: CpimMessage.from_bytes(signature_line),
            cpim,
        ),
        (
            "header_base64 of a 1 MB value",
            1_000_000,
            lambda: built.header_base64("MLS-Derived-Content-Signature", NS_MLS),
            signature,
        ),
        ("IMDN, a 1 MB document", len(big_imdn), lambda: Imdn.from_bytes(big_imdn), imdn),
    ]


def _refusal(refuse: Callable[[], object]) -> Callable[[], str]:
    def call() -> str:
        try:
            refuse()
        except ParseError as exc:
            return type(exc).__name__
        raise AssertionError("a hostile input was accepted")

    return call


def rejection_rows(runs: int = 5) -> list[Rejection]:
    """Time the refusal of each hostile input (:func:`hostile_inputs`)."""
    rows = []
    for name, size, refuse, ordinary in hostile_inputs():
        error = _refusal(refuse)()
        if error not in (CpimParseError.__name__, ImdnParseError.__name__):
            raise AssertionError(f"{name}: unexpected {error}")
        milliseconds = _best(_refusal(refuse), runs) * 1000
        rows.append(Rejection(name, size, milliseconds, error, _best(ordinary, runs) * 1000))
    return rows


def print_rejections(rows: Sequence[Rejection]) -> None:
    """Print the parser-limit rows."""
    print("Parser limits: refusing a hostile input, medians; lower is better")
    print(f"{'input':<36} {'size':>11} {'refused in':>11} {'as':<16} {'ordinary parse':>14}")
    for row in rows:
        print(
            f"{row.input:<36} {row.size:>9,} B {row.milliseconds:>8.3f} ms {row.error:<16}"
            f" {row.ordinary_milliseconds:>11.3f} ms"
        )
    print(
        "ordinary parse: a typical message of the same format (an RCS CPIM header block with"
        " a 200-byte body, a delivery IMDN, a 300-byte base64 value)"
    )


def run(
    sizes: Sequence[int] = (MIB, 100 * MIB),
    *,
    runs: int = 5,
    messages: int = 300,
    limits: bool = True,
) -> list[Row]:
    """Measure and print; returns the rows of the first two sections (see the module
    docstring). With ``limits``, also measures and prints the parser limits."""
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="rcs-bench-") as tmp:
        for size in sizes:
            rows += file_rows(size, runs if size < 50 * MIB else max(1, runs // 2), Path(tmp))
    rows += message_rows(messages)
    print("RCS layer (RCC.16), medians; higher is better")
    print(f"{'operation':<44} {'size':>9} {'rcs-mls':>12} {'reference':>12} {'ratio':>7}")
    for row in rows:
        shown = f"{row.size / MIB:g} MiB" if row.size >= MIB else f"{row.size} B"
        reference = "-" if row.reference is None else f"{row.reference:,.0f}"
        ratio = "-" if row.ratio is None else f"{row.ratio:.2f}x"
        print(
            f"{row.operation:<44} {shown:>9} {row.rcs_mls:>8,.0f} {row.unit:<4}"
            f"{reference:>11} {ratio:>7}"
        )
    print(
        "reference: files, the same Annex C construction in Python over `cryptography`;"
        " messages, bare MLS (Group.encrypt + process_message) without the RCS framing"
    )
    file_ratios = [r.ratio for r in rows if r.unit == "MB/s" and r.ratio is not None]
    if file_ratios:
        worst = min(file_ratios)
        print(
            f"target: files at least 0.9x the reference: {'met' if worst >= 0.9 else 'missed'}"
            f" (worst {worst:.2f}x)"
        )
    if limits:
        print()
        print_rejections(rejection_rows(runs))
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benches.rcs", description=__doc__)
    parser.add_argument("--sizes", default="1,100", help="file sizes in MiB (default 1,100)")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--messages", type=int, default=300)
    parser.add_argument(
        "--limits-only", action="store_true", help="only the parser limits (a second or so)"
    )
    args = parser.parse_args(argv)
    warn_if_debug_build()
    if args.limits_only:
        print_rejections(rejection_rows(args.runs))
        return 0
    sizes = [int(float(s) * MIB) for s in args.sizes.split(",") if s.strip()]
    run(sizes, runs=args.runs, messages=args.messages)
    return 0


if __name__ == "__main__":
    sys.exit(main())
