"""Zip archives of credential files in a bulk verification: one rule for ``POST /v1/verify/batch``
(an uploaded archive, read from memory) and ``registry verify`` (an archive on disk, read entry by
entry), so the same archive gives the same rows through both.

Every entry is a file to verify except directories and hidden entries (:func:`hidden_entry`): a
``notes.txt`` in an archive gets an INVALID row rather than vanishing. An archive that cannot be
opened is one file that failed (``not a readable zip archive``), and so is an archive with no file
to verify (empty, or only folders and hidden entries: it never vanishes); an entry that cannot be read
(encrypted, corrupt, an unknown compression) is a failed file of its own. An entry is read with a
bounded read, never trusting the size its archive declares (a zip bomb stops at the bound); a
nested archive is an entry like any other, never opened. Nothing is written to disk: entry names
are only labels.
"""

from __future__ import annotations

import io
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from registry.locales.reasons import Reason
from registry.verify.tabular import BatchFile, hidden_path

__all__ = [
    "ZIP_MAGIC",
    "ArchiveMember",
    "MemberReader",
    "MemberTooLarge",
    "hidden_entry",
    "is_zip",
    "list_members",
    "read_member",
    "read_zip",
]

ZIP_MAGIC: Final = (b"PK\x03\x04", b"PK\x05\x06")
"""How a zip archive starts (a local file header; an empty archive's end record)."""

_OPEN_ERRORS: Final = (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError, EOFError, NotImplementedError)
_READ_ERRORS: Final = (RuntimeError, NotImplementedError, zipfile.BadZipFile, zlib.error, OSError, EOFError, ValueError)


class MemberTooLarge(Exception):
    """An entry unpacks to more than the bytes allowed for it (the API refuses the request, the
    CLI gives the entry its own row)."""


def is_zip(head: bytes) -> bool:
    """Whether bytes starting with ``head`` (4 bytes are enough) are a zip archive."""
    return head.startswith(ZIP_MAGIC)


def hidden_entry(name: str) -> bool:
    """An archive entry nobody meant to send: macOS resource forks (``__MACOSX/``, ``._name``),
    Finder's ``.DS_Store`` and any other hidden file or folder (:func:`hidden_path`, the rule of
    ``registry verify DIR``)."""
    parts = name.replace("\\", "/").split("/")
    return parts[0] == "__MACOSX" or hidden_path(parts)


def _unreadable(source: str, exc: BaseException) -> BatchFile:
    return BatchFile(source, problem=Reason("not a readable zip archive: {problem}", problem=str(exc)))


def _members(archive: zipfile.ZipFile) -> list[zipfile.ZipInfo]:
    return [i for i in archive.infolist() if not i.is_dir() and not hidden_entry(i.filename)]


def _empty(source: str) -> BatchFile:
    return BatchFile(source, problem=Reason("the zip archive holds no file to verify"))


def read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, source: str, limit: int) -> BatchFile:
    """The entry ``info`` as a file named ``source``, or why it cannot be read; at most ``limit``
    bytes are unpacked (:class:`MemberTooLarge` beyond)."""
    if info.file_size > limit:
        raise MemberTooLarge(source)
    try:
        with archive.open(info) as handle:
            content = handle.read(limit + 1)  # never more than the limit, whatever the header says
    except _READ_ERRORS as exc:
        return BatchFile(source, problem=Reason("cannot read this zip entry: {problem}", problem=str(exc)))
    if len(content) > limit:
        raise MemberTooLarge(source)
    return BatchFile(source, content)


def read_zip(name: str, data: bytes, *, files_left: int, bytes_left: int) -> tuple[list[BatchFile], int] | None:
    """The files of the archive ``data`` (named ``name``; its entries ``name/ENTRY``) and the
    unpacked bytes they used: one failed file when it cannot be opened; None when it holds more
    than ``files_left`` entries; :class:`MemberTooLarge` when they unpack to more than
    ``bytes_left`` bytes in all."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        entries = _members(archive)
    except _OPEN_ERRORS as exc:
        return [_unreadable(name, exc)], 0
    if not entries:
        return [_empty(name)], 0
    if len(entries) > files_left:
        return None
    out: list[BatchFile] = []
    used = 0
    for info in entries:
        file = read_member(archive, info, f"{name}/{info.filename}", bytes_left - used)
        used += len(file.data or b"")
        out.append(file)
    return out, used


@dataclass(frozen=True)
class ArchiveMember:
    """One entry of an archive on disk, to be read later (:class:`MemberReader`)."""

    archive: Path
    info: zipfile.ZipInfo
    label: str | None = None
    """How the archive is named (``<stdin>`` for a copy of standard input); None: its path."""

    @property
    def source(self) -> str:
        """How the entry is named in reports and rows: ``ARCHIVE/ENTRY``."""
        return f"{self.label or self.archive}/{self.info.filename}"


def list_members(path: Path, label: str | None = None) -> list[ArchiveMember | BatchFile]:
    """The entries of the archive at ``path`` (named ``label``, else by its path) to verify, in
    the archive's order (only its central directory is read); only the failed file when it cannot
    be opened or holds none."""
    name = label or str(path)
    try:
        with zipfile.ZipFile(path) as archive:
            members: list[ArchiveMember | BatchFile] = [ArchiveMember(path, i, label) for i in _members(archive)]
    except _OPEN_ERRORS as exc:
        return [_unreadable(name, exc)]
    return members or [_empty(name)]


class MemberReader:
    """Reads :class:`ArchiveMember` entries with one archive open at a time (entries come in
    archive order, so each archive is opened about once, however many entries it holds)."""

    def __init__(self) -> None:
        self._path: Path | None = None
        self._archive: zipfile.ZipFile | None = None

    def read(self, member: ArchiveMember, limit: int) -> BatchFile:
        """The entry, or why it cannot be read (the archive changed or vanished since it was
        listed: a failed file); :class:`MemberTooLarge` beyond ``limit`` bytes."""
        try:
            archive = self._open(member.archive)
        except _OPEN_ERRORS as exc:
            return _unreadable(member.source, exc)
        return read_member(archive, member.info, member.source, limit)

    def _open(self, path: Path) -> zipfile.ZipFile:
        if self._path != path or self._archive is None:
            self.close()
            self._archive = zipfile.ZipFile(path)  # its own file handle, closed with it
            self._path = path
        return self._archive

    def close(self) -> None:
        if self._archive is not None:
            self._archive.close()
        self._path = self._archive = None

    def __enter__(self) -> MemberReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
