from pathlib import Path

import pytest

from tfrec_inc.docs import attribute_docs, config_reference

ROOT = Path(__file__).resolve().parents[1]


def test_config_reference_is_current():
    committed = (ROOT / "docs/config.md").read_text()
    assert committed == config_reference(), "docs/config.md is stale: run tfrec-inc docs --out docs/config.md"


def test_attribute_docs_parse_continuations_and_stop_at_the_next_section():
    class Example:
        """Summary.

        Attributes:
          alpha: first line
            continued here.
          beta: one line.

        Example:
          gamma: not an attribute.
        """

    assert attribute_docs(Example) == {"alpha": "first line continued here.", "beta": "one line."}


def test_every_documented_key_appears_with_its_default():
    text = config_reference()
    for key, default in (("models[].embedding_dim", "`32`"), ("windows.mode", "`count`"),
                         ("incremental.replay_size", None), ("runtime.distribute", "`none`")):
        line = next((row for row in text.splitlines() if row.startswith(f"| `{key}` |")), None)
        if line is None:
            pytest.fail(f"{key} missing from the reference")
        if default is not None:
            assert f"| {default} |" in line


def test_docs_command_writes_the_reference(tmp_path, capsys):
    from tfrec_inc.cli import main

    out = tmp_path / "sub" / "config.md"
    assert main(["docs", "--out", str(out)]) == 0
    assert out.read_text() == config_reference()
    assert main(["docs"]) == 0
    assert capsys.readouterr().out.endswith(config_reference())
