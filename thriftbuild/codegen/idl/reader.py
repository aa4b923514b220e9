"""Reading an IDL file: the one place that turns its bytes into text.

Discovery reads each file once with :func:`read_idl` and hands the text along in
:class:`~thriftbuild.codegen.model.IdlSource`; both backends and the fingerprint work
from that text, so every part of the build sees the same characters.
"""

from __future__ import annotations

import codecs
from pathlib import Path

from thriftbuild.codegen.errors import IdlError

__all__ = ["decode_idl", "encode_idl", "read_idl"]


def decode_idl(data: bytes) -> str:
    """IDL bytes as text: UTF-8, a leading byte-order mark dropped.

    Bytes that are not UTF-8 (a Latin-1 comment, say) are kept as lone surrogates
    (``errors="surrogateescape"``) instead of failing the whole file: the lexer decides
    where they are acceptable and reports the others with their line and column.
    """
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8) :]
    return data.decode("utf-8", "surrogateescape")


def encode_idl(text: str) -> bytes:
    """The inverse of :func:`decode_idl` (without the byte-order mark)."""
    return text.encode("utf-8", "surrogateescape")


def read_idl(path: Path, display: str) -> str:
    """Read the IDL file at ``path`` (named ``display`` in messages) as text.

    Raises:
        IdlError: the file cannot be read.
    """
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise IdlError(display, 0, 0, f"cannot read: {exc.strerror or exc}") from exc
    return decode_idl(data)
