"""The README's example is real code: run it, and run the demo."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from rcs_mls.__main__ import main

README = Path(__file__).resolve().parent.parent / "README.md"


def test_readme_example_runs() -> None:
    text = README.read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    assert blocks, "the README has no python example"
    for block in blocks:
        exec(compile(block, str(README), "exec"), {})


def test_quick_start_has_exactly_two_commands() -> None:
    text = README.read_text(encoding="utf-8")
    section = text.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    commands = re.findall(r"```sh\n(.*?)```", section, flags=re.S)
    assert [c.strip() for c in commands] == [
        "pip install . && python -m rcs_mls demo",
        'pip install ".[test]" && python -m pytest',
    ]
    ci = (README.parent / ".ci" / "run").read_text(encoding="utf-8")
    assert 'pip install ".[test]" && python -m pytest' in ci


def test_demo_runs(capsys: pytest.CaptureFixture[str]) -> None:
    # The demo is the RCS one (ciphersuite 0x0002); tests/rcs/test_conversation.py checks
    # every event it produces.
    assert main(["demo", "--file-size", "1"]) == 0
    assert "no content in clear" in capsys.readouterr().out
