"""Atomic writes: readers see the old version or the new one, never half, never a 0600/0700 leftover."""

import os
import stat

import pytest

from tfrec_inc import atomic

UMASK = os.umask(0)
os.umask(UMASK)


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_files_get_ordinary_modes_and_failed_writes_leave_the_old_file(tmp_path):
    target = tmp_path / "a.csv"
    atomic.write_text(target, "old")
    assert _mode(target) == 0o666 & ~UMASK  # mkstemp alone would leave 0600

    def broken(tmp):
        tmp.write_text("half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        atomic.write_with(target, broken)
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.csv"]


def test_staging_dir_swaps_in_on_success_and_keeps_the_old_folder_on_failure(tmp_path):
    target = tmp_path / "out"
    with atomic.staging_dir(target) as tmp:
        (tmp / "v").write_text("1")
    assert _mode(target) == 0o777 & ~UMASK  # mkdtemp alone would leave 0700
    with pytest.raises(RuntimeError), atomic.staging_dir(target) as tmp:
        (tmp / "v").write_text("2")
        raise RuntimeError("interrupted")
    assert (target / "v").read_text() == "1"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
    with atomic.staging_dir(target) as tmp:
        (tmp / "v").write_text("3")
    assert (target / "v").read_text() == "3"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_replace_dir_restores_the_old_folder_when_the_new_one_cannot_move(tmp_path):
    old, new = tmp_path / "export", tmp_path / "missing"
    old.mkdir()
    (old / "saved_model.pb").write_text("v1")
    with pytest.raises(FileNotFoundError):
        atomic.replace_dir(new, old)  # the new folder does not exist: its rename fails
    assert (old / "saved_model.pb").read_text() == "v1"
