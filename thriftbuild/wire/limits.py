"""Size limits applied to everything read from the network, as one value object."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DEFAULT_LIMITS", "Limits"]


@dataclass(frozen=True)
class Limits:
    """Bounds on what a peer may make us allocate; checked before allocating.

    The defaults respect Apache Thrift's 16,384,000-byte frame limit (the default of
    its framed and THeader transports), so anything Apache accepts by default we
    accept too.

    Attributes:
        max_frame: the largest frame (framed, THeader) or unframed message, in bytes;
            also bounds a THeader frame's payload after zlib decompression.
        max_string: the longest string or binary value, in bytes (also method names).
        max_container: the most items in one list, set or map. Decoders allocate per
            declared item, so this is kept well below ``max_frame`` by default.
        max_depth: the deepest nesting of structs and containers.
    """

    max_frame: int = 16_384_000
    max_string: int = 16_384_000
    max_container: int = 1_000_000
    max_depth: int = 64

    def __post_init__(self) -> None:
        for name in ("max_frame", "max_string", "max_container", "max_depth"):
            value = getattr(self, name)
            if type(value) is not int or not 1 <= value <= 0x7FFFFFFF:
                raise ValueError(f"{name} must be an integer from 1 to 2**31-1, not {value!r}")


DEFAULT_LIMITS = Limits()
