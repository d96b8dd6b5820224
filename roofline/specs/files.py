"""Reading input files safely: regular files only, never more than a size limit, never
blocking; and the spec files a folder holds.

``st_size`` is 0 for devices and FIFOs, so a size check alone lets ``/dev/zero`` fill memory
and a FIFO block forever. Here the file type is checked before opening (a FIFO is never
opened), the file is opened with ``O_NONBLOCK`` as a second guard and checked again on the
open descriptor (the path may have been swapped in between), and reading stops one byte past
the limit whatever the size said.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from pathlib import Path

from roofline.errors import SpecError

#: Largest input file read, bytes. The shipped specs are a few kB; a HF config.json ~10 kB.
MAX_FILE_BYTES = 1_000_000
#: Files that ``validate DIR`` checks: spec YAML and Hugging Face config JSON.
SPEC_SUFFIXES = (".yaml", ".yml", ".json")
#: Files of a Hugging Face model folder that are not a model config (skipped by the walk).
HF_SIDE_FILES = frozenset({
    "tokenizer.json", "tokenizer_config.json", "generation_config.json", "vocab.json",
    "special_tokens_map.json", "added_tokens.json", "preprocessor_config.json",
    "processor_config.json", "chat_template.json", "hf_quant_config.json"})
#: Most files one folder walk visits (a guard against pointing ``validate`` at ``/``).
MAX_WALK_FILES = 10_000

_OPEN_FLAGS = (os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
               | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0))


def file_kind(mode: int) -> str:
    """What a ``st_mode`` is, in words ("a regular file", "a FIFO (named pipe)", ...)."""
    for test, name in ((stat.S_ISREG, "a regular file"), (stat.S_ISDIR, "a folder"),
                       (stat.S_ISFIFO, "a FIFO (named pipe)"),
                       (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
                       (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return name
    return "not a regular file"


def _refuse(kind: str, source: str) -> SpecError:
    return SpecError(f"is {kind}, not a regular file; give the path of a spec file "
                     "(YAML or config.json)", source=source)


def read_bounded(path: str | Path, limit: int = MAX_FILE_BYTES) -> bytes:
    """The bytes of the regular file ``path``, at most ``limit`` of them.

    Raises :class:`SpecError` naming the file when it is missing or unreadable, is not a
    regular file (folder, FIFO, device, socket), or holds more than ``limit`` bytes.
    """
    source = str(path)
    if "\x00" in source:  # os.stat raises ValueError, not OSError, on a NUL byte
        raise SpecError("the path holds a NUL byte; give a file name", source=repr(source))
    try:
        st = os.stat(path)  # follows symlinks: a link to /dev/zero is refused as a device
        if not stat.S_ISREG(st.st_mode):
            raise _refuse(file_kind(st.st_mode), source)
        fd = os.open(path, _OPEN_FLAGS)
    except OSError as e:
        raise SpecError(f"cannot read file: {e.strerror or e}", source=source) from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):  # swapped for something else since the check
            raise _refuse(file_kind(st.st_mode), source)
        chunks: list[bytes] = []
        total = 0
        while total <= limit:
            chunk = os.read(fd, min(1 << 16, limit + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
    except OSError as e:
        raise SpecError(f"cannot read file: {e.strerror or e}", source=source) from None
    finally:
        os.close(fd)
    if total > limit:
        raise SpecError(f"file is larger than {limit:,} bytes, the limit for spec files",
                        source=source)
    return b"".join(chunks)


def spec_files(folder: str | Path) -> list[Path]:
    """Every spec file (``*.yaml``, ``*.yml``, ``*.json``) under ``folder``, sorted.

    Walks subfolders (a folder of model folders each holding a ``config.json``), skips
    hidden entries and a model folder's other JSON (:data:`HF_SIDE_FILES`, weight indexes),
    does not follow links to folders, and lists special files too so the
    reader can refuse them by name; never opens anything.
    """
    out: list[Path] = []
    if "\x00" in str(folder):
        raise SpecError("the path holds a NUL byte; give a folder name", source=repr(folder))
    for root, dirs, names in os.walk(folder, onerror=_walk_error(folder)):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        out.extend(Path(root, n) for n in sorted(names)
                   if not n.startswith(".") and n.lower().endswith(SPEC_SUFFIXES)
                   and n not in HF_SIDE_FILES and not n.endswith(".index.json"))
        if len(out) > MAX_WALK_FILES:
            raise SpecError(f"more than {MAX_WALK_FILES:,} spec files under this folder; "
                            "give a smaller folder", source=str(folder))
    return out


def _walk_error(folder: str | Path) -> Callable[[OSError], None]:
    def raise_(e: OSError) -> None:
        raise SpecError(f"cannot read folder: {e.strerror or e}",
                        source=e.filename or str(folder))
    return raise_
