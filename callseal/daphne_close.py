"""Let ASGI applications under daphne close WebSockets with the RFC 6455 codes an endpoint
may send (1008 policy violation, 1011 internal error, …), not only 1000 and 3000-4999.

daphne hands ``websocket.close`` to Autobahn's ``sendClose``, which raises for any other
code. The exception lands in the application's ``send``: a media stream refused with 1008
stayed open (when the close came from a timer) or died with a traceback and daphne's 1011
(issue 22 finding 3). The frame itself is valid: ``sendCloseFrame`` writes it as is.

After a 1008 (policy violation) the server reads nothing more from the peer: a flooding
peer would otherwise go on feeding it frames to parse until it noticed the close. The close
frame still goes out (dropping the connection with unread data would reset it and lose the
frame), and Autobahn's closing-handshake timeout ends the connection.
"""

from __future__ import annotations

from typing import Any

# RFC 6455 section 7.4.1 codes that an endpoint may put in a Close frame.
ENDPOINT_CODES = frozenset({1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011})
POLICY_VIOLATION = 1008
_installed = False


def install() -> None:
    global _installed
    if _installed:
        return
    try:
        from daphne.ws_protocol import WebSocketProtocol
    except ImportError:  # not served by daphne
        return
    original = WebSocketProtocol.serverClose

    def server_close(self: Any, code: int | None = None) -> None:
        if code in ENDPOINT_CODES and code != 1000:
            self.sendCloseFrame(code=code, isReply=False)
            if code == POLICY_VIOLATION:
                self.transport.pauseProducing()  # read no more of its frames
        else:
            original(self, code=code)

    WebSocketProtocol.serverClose = server_close
    _installed = True
