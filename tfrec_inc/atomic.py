"""Atomic writes of files and folders: a reader sees the old version or the new one, never half.

Every result file, cache shard, exported model and unpacked dataset is written through
here. Files go to a temporary sibling and are renamed over the target; folders are
filled under a temporary sibling name and swapped in. Temporary files and folders get the
modes an ordinary ``open``/``mkdir`` would give under the current umask (``mkstemp`` and
``mkdtemp`` make 0600/0700 ones, which shared results folders must not have).

Example:
  >>> import shutil, tempfile
  >>> from pathlib import Path
  >>> root = Path(tempfile.mkdtemp())
  >>> write_text(root / "a.txt", "hello")
  >>> (root / "a.txt").read_text()
  'hello'
  >>> with staging_dir(root / "out") as tmp:
  ...     _ = (tmp / "f.txt").write_text("x")
  >>> sorted(p.name for p in (root / "out").iterdir())
  ['f.txt']
  >>> shutil.rmtree(root)
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

_UMASK = os.umask(0)
os.umask(_UMASK)
FILE_MODE = 0o666 & ~_UMASK
DIR_MODE = 0o777 & ~_UMASK


def write_with(path: str | Path, writer: Callable[[Path], object], suffix: str = "") -> None:
    """Calls ``writer(tmp)`` on a temporary sibling of ``path``, then renames it into place.

    Args:
      path: the file to (re)write.
      writer: writes the whole file at the path it is given (e.g. ``fig.savefig``).
      suffix: the temporary name's suffix, for writers that infer a format from it.
    """
    path = Path(path)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        writer(tmp)
        os.chmod(tmp, FILE_MODE)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_bytes(path: str | Path, data: bytes) -> None:
    """Writes ``data`` to ``path`` atomically."""
    write_with(path, lambda tmp: tmp.write_bytes(data))


def write_text(path: str | Path, text: str) -> None:
    """Writes UTF-8 ``text`` to ``path`` atomically."""
    write_with(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def make_temp_dir(target: str | Path, tag: str = "tmp") -> Path:
    """A fresh, empty sibling folder of ``target`` (mode as ``mkdir`` gives)."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.{tag}-", dir=target.parent))
    os.chmod(tmp, DIR_MODE)
    return tmp


def replace_dir(src: str | Path, dst: str | Path) -> None:
    """Moves the finished folder ``src`` to ``dst``, replacing what was there.

    The old ``dst`` is renamed aside first and removed only after ``src`` is in place,
    so ``dst`` is missing for one rename at most and a failure never loses both.
    """
    src, dst = Path(src), Path(dst)
    old = None
    if dst.exists():
        old = make_temp_dir(dst, "old")
        old.rmdir()
        dst.rename(old)
    try:
        src.rename(dst)
    except BaseException:
        if old is not None:
            old.rename(dst)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


@contextlib.contextmanager
def staging_dir(target: str | Path) -> Iterator[Path]:
    """Yields an empty temporary folder that replaces ``target`` when the block succeeds.

    On an exception the temporary folder is removed and ``target`` is left as it was.
    """
    tmp = make_temp_dir(target)
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    replace_dir(tmp, target)
