"""Where a command writes, checked before it runs.

A command that computes for minutes and then cannot write its result (a read-only or
missing directory, a file where a directory is expected, ``/proc``) used to end in an
internal error after the work. These checks run first and say what is wrong in words:

* :func:`check_output_file`: the file's directory exists and takes a new file, and the
  path is not a directory. A missing directory is not created (a typo would leave a stray
  tree and the output where nobody looks).
* :func:`check_output_dir`: a directory the command creates if needed (with its parents):
  the path is a directory or does not exist yet, and its nearest existing ancestor takes a
  new file.
* :func:`check_not_an_input`: no file the command writes is one of the files it reads
  (the same file by any path: relative, absolute, through a symlink or a hard link), which
  the write would replace before or while it is read.
* :func:`writing`: around the writes themselves, an ``OSError`` (a disk that filled up
  since the check) becomes the same kind of message.

"Takes a new file" is tried, not inferred from permission bits (which ``root`` ignores and
``/proc`` does not reflect): a uniquely named empty file is created and removed.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

from mmkit.errors import OutputError


def _why(exc: OSError) -> str:
    return exc.strerror or type(exc).__name__


def _takes_a_file(directory: Path, option: str, target: Path) -> None:
    try:
        fd, name = tempfile.mkstemp(prefix=".mmkit-write-check-", dir=directory)
    except OSError as exc:
        raise OutputError(f"{option} {target}: cannot write in {directory} ({_why(exc)})") from None
    os.close(fd)
    with contextlib.suppress(OSError):
        os.unlink(name)


def check_output_file(path: Path | str, option: str, *, make_parents: bool = False) -> None:
    """The file ``path`` (given as ``option``) can be written: see the module doc.
    ``make_parents``: the command creates the file's missing directories (then those are
    checked as :func:`check_output_dir` checks a directory)."""
    p = Path(path)
    parent = p.parent
    if make_parents:
        if p.is_dir():
            raise OutputError(f"{option} {p}: is a directory; give a file name, e.g. {p / 'out'}")
        check_output_dir(parent, option)
        return
    if not parent.is_dir():
        if parent.exists():
            raise OutputError(
                f"{option} {p}: {parent} is a file, not a directory; choose another path"
            )
        raise OutputError(
            f"{option} {p}: the output directory {parent} does not exist; create it first "
            f"(mkdir -p {parent}) or choose another path"
        )
    if p.is_dir():
        raise OutputError(f"{option} {p}: is a directory; give a file name, e.g. {p / 'out'}")
    _takes_a_file(parent, option, p)


def check_output_dir(path: Path | str, option: str) -> None:
    """The directory ``path`` (given as ``option``) exists or can be created, and takes
    files: see the module doc."""
    p = Path(path)
    if p.exists() and not p.is_dir():
        raise OutputError(f"{option} {p}: exists and is not a directory; give a directory")
    existing = p
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise OutputError(f"{option} {p}: {existing} is not a directory; give a directory")
    _takes_a_file(existing, option, p)


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:  # either is missing (nothing to lose) or cannot be stat-ed
        return False


def check_not_an_input(
    out: Path | str,
    inputs: Iterable[Path | str | None],
    option: str,
    *,
    also_written: Iterable[Path | str] = (),
) -> None:
    """Neither ``out`` (given as ``option``) nor the files written beside it
    (``also_written``, e.g. a report next to the output) is one of ``inputs``."""
    p = Path(out)
    ins = [Path(i) for i in inputs if i is not None]
    for written in (p, *(Path(w) for w in also_written)):
        for i in ins:
            if _same_file(written, i):
                what = "is" if written == p else f"would also write {written}, which is"
                raise OutputError(f"{option} {p}: {what} also an input; choose another path")


@contextlib.contextmanager
def writing(path: Path | str, option: str) -> Iterator[None]:
    """Writes to ``path`` inside the block: an ``OSError`` is said as an :class:`OutputError`
    naming ``option`` and ``path``."""
    try:
        yield
    except OSError as exc:
        where = exc.filename if exc.filename else path
        raise OutputError(f"{option} {path}: cannot write {where} ({_why(exc)})") from None
