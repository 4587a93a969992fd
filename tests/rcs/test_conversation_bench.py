"""The RCS benchmark (benches/rcs.py) runs once on tiny sizes so that it cannot rot; the
real run is ``python -m benches.rcs``."""

from __future__ import annotations

import os

from benches.rcs import reference_decrypt, reference_encrypt, run

from rcs_mls.rcs import filecrypt


def test_rcs_benchmark_runs() -> None:
    rows = run((64 * 1024,), runs=1, messages=3)
    assert [r.unit for r in rows] == ["MB/s"] * 4 + ["msg/s"]
    assert all(r.rcs_mls > 0 and r.reference is not None and r.reference > 0 for r in rows)
    assert all(r.ratio is not None and r.ratio > 0 for r in rows)


def test_reference_is_the_same_construction() -> None:
    # The reference and filecrypt read each other's ciphertexts: they measure the same thing.
    data = os.urandom(5000)
    ciphertext, key, iv, tag = reference_encrypt(data, "a.bin")
    assert filecrypt.decrypt(ciphertext, "a.bin", filecrypt.FileKey(key, iv, tag)) == data
    ours, file_key = filecrypt.encrypt(data, "a.bin")
    assert reference_decrypt(ours, "a.bin", file_key.key, file_key.iv, file_key.tag) == data
