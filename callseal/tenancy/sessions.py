"""Console sessions stored under a hash of their key (SESSION_ENGINE; docs/adr/0012).

The browser's cookie carries the session key; the database row is keyed by its BLAKE2b
digest, so a copy of the directory database (a backup, ``var/``) holds no session a reader
could replay, while logout and revocation still delete the row server-side (which a
signed-cookie session cannot do).
"""

from __future__ import annotations

import hashlib
from typing import Any

from django.contrib.sessions.backends import db
from django.contrib.sessions.base_session import AbstractBaseSession

# 20 bytes: 40 hex characters, the width of Session.session_key.
DIGEST_BYTES = 20


def session_key_digest(session_key: str) -> str:
    return hashlib.blake2b(
        session_key.encode(), digest_size=DIGEST_BYTES, person=b"callseal-session"
    ).hexdigest()


class SessionStore(db.SessionStore):
    def _row(self, session_key: str | None) -> Any:
        """The model's rows for ``session_key`` (none when there is no key)."""
        if not session_key:
            return self.model.objects.none()
        return self.model.objects.filter(session_key=session_key_digest(session_key))

    def _get_session_from_db(self) -> AbstractBaseSession | None:
        return self._checked(self._live().first())

    async def _aget_session_from_db(self) -> AbstractBaseSession | None:
        return self._checked(await self._live().afirst())

    def _live(self) -> Any:
        from django.utils import timezone

        return self._row(self.session_key).filter(expire_date__gt=timezone.now())

    def _checked(self, row: AbstractBaseSession | None) -> AbstractBaseSession | None:
        if row is None:
            self._session_key = None
        return row

    def exists(self, session_key: str) -> bool:
        return bool(self._row(session_key).exists())

    async def aexists(self, session_key: str) -> bool:
        return bool(await self._row(session_key).aexists())

    def create_model_instance(self, data: dict[str, Any]) -> AbstractBaseSession:
        row = super().create_model_instance(data)
        row.session_key = session_key_digest(row.session_key)
        return row

    async def acreate_model_instance(self, data: dict[str, Any]) -> AbstractBaseSession:
        row = await super().acreate_model_instance(data)
        row.session_key = session_key_digest(row.session_key)
        return row

    def delete(self, session_key: str | None = None) -> None:
        self._row(session_key or self.session_key).delete()

    async def adelete(self, session_key: str | None = None) -> None:
        await self._row(session_key or self.session_key).adelete()
