"""One server connection's state, without I/O: bytes in, calls out."""

from __future__ import annotations

from typing import Any

from thriftbuild import wire
from thriftbuild.dispatch.dispatcher import Call, Dispatcher
from thriftbuild.wire.theader import plain_frame

__all__ = ["ServerConnection"]

_FRAMED = wire.Framing.FRAMED


class ServerConnection:
    """Decodes what one client sends into :class:`~thriftbuild.dispatch.Call`\\ s.

    The client's dialect (binary or compact, framed or unframed, THeader) is
    detected from its first bytes unless ``dialect`` fixes it; replies are framed
    the same way. Counts itself in the active-connections gauge until
    :meth:`close`.

    Usage by a driver::

        conn = ServerConnection(dispatcher, peer=address)
        try:
            while data := sock.recv(65536):
                for call in conn.feed(data):      # WireError: close the connection
                    reply = dispatcher.handle(call)
                    if reply is not None:
                        sock.sendall(reply)
        finally:
            conn.close()

    Args:
        dispatcher: the service and handler.
        peer: the client's address, passed on to each request.
        dialect: the one dialect to accept; ``None`` detects it.
    """

    def __init__(
        self, dispatcher: Dispatcher, *, peer: Any = None, dialect: wire.Dialect | None = None
    ) -> None:
        self.dispatcher = dispatcher
        self.peer = peer
        self._auto = dialect is None
        self._decoder: wire.Decoder | wire.AutoDecoder = (
            wire.AutoDecoder(dispatcher.limits)
            if dialect is None
            else dialect.decoder(dispatcher.limits)
        )
        self._dialect = dialect
        # Framed: the protocol, for feeds that bring exactly one whole frame (most do)
        # to an empty decoder; taken without the decoder, as it would return it.
        self._whole: int | None = None
        if dialect is not None and dialect.framing is _FRAMED:
            self._whole = dialect.protocol
        self._gauge = None
        if dispatcher.metrics is not None:
            self._gauge = dispatcher.metrics.connections(dispatcher.name)
            self._gauge.inc()

    @property
    def dialect(self) -> wire.Dialect | None:
        """The client's dialect, once known."""
        return self._dialect

    @property
    def buffered(self) -> int:
        """Bytes received that are not part of a returned call yet (0: between requests)."""
        return self._decoder.buffered

    def feed(self, data: bytes) -> list[Call]:
        """Add received bytes; return the calls they complete, in order.

        Raises:
            WireError: bytes that are no valid request (or over the limits); the
                connection cannot continue and should be closed.
        """
        whole = self._whole
        if whole is not None and not self._decoder.buffered:
            payload = wire.framed_payload(data, self.dispatcher.limits)
            if payload is not None:
                dialect = self._dialect
                assert dialect is not None
                return [self.dispatcher.begin(plain_frame(payload, whole), dialect, self.peer)]
        try:
            frames = self._decoder.feed(data)
        except wire.WireError:
            self._whole = None  # the decoder refuses every later feed: so does this
            raise
        if not frames:
            return []
        dialect = self._dialect
        if dialect is None:
            assert isinstance(self._decoder, wire.AutoDecoder)
            dialect = self._dialect = self._decoder.dialect
            assert dialect is not None
            if dialect.framing is _FRAMED:
                self._whole = dialect.protocol
        begin = self.dispatcher.begin
        if len(frames) == 1:  # the usual feed: no comprehension frame
            return [begin(frames[0], dialect, self.peer)]
        return [begin(frame, dialect, self.peer) for frame in frames]

    def close(self) -> None:
        """Stop counting this connection (idempotent)."""
        if self._gauge is not None:
            self._gauge.dec()
            self._gauge = None
