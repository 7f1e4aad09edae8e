"""Which portal a connector call comes from: the credential its URL carries.

The signature is checked in memory; whether the portal still has the application
installed is asked of the store, and a yes is remembered for a few seconds, so that cached
answers stay cheap. An uninstall handled by this process takes effect at once; one handled
by another worker or replica, within CONFIRMED_FOR seconds.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping

from sqlalchemy.exc import SQLAlchemyError

from biconnector.errors import CredentialInvalid, CredentialMissing, NotReady
from biconnector.portal.keys import MEMBER_PARAMETER, SIGNATURE_PARAMETER
from biconnector.portal.store import Portals

CONFIRMED_FOR = 10.0

logger = logging.getLogger(__name__)


class Callers:
    def __init__(self, portals: Portals, unsigned_allowed: bool) -> None:
        self._portals = portals
        self._unsigned_allowed = unsigned_allowed
        self._confirmed: dict[str, float] = {}

    def signed(self, query: Mapping[str, str]) -> str | None:
        """The member id a valid signature names, or None for an unsigned call that
        ALLOW_UNSIGNED_CALLS lets through; the store is not asked."""
        member_id = query.get(MEMBER_PARAMETER)
        signature = query.get(SIGNATURE_PARAMETER)
        if member_id is None and signature is None:
            if self._unsigned_allowed:
                return None
            raise CredentialMissing(
                "This URL carries no portal credential. Reinstall the application on the "
                "portal (or run `biconnector portals register`) to get signed connector URLs."
            )
        if not member_id or not signature or not self._portals.keys.signed(member_id, signature):
            raise CredentialInvalid("The portal credential in this URL is not valid.")
        return member_id

    def known(self, member_id: str) -> bool:
        """Whether the portal was confirmed as installed moments ago."""
        return self._confirmed.get(member_id, 0.0) > time.monotonic()

    def confirm(self, member_id: str) -> None:
        """Ask the store whether the portal has the application installed (blocking)."""
        try:
            installed = self._portals.installed(member_id)
        except SQLAlchemyError as exc:
            logger.warning("the application's database cannot be used: %s", type(exc).__name__)
            raise NotReady(
                "The service's own database cannot be used; the log has the details."
            ) from exc
        if not installed:
            raise CredentialInvalid("The portal of this URL has uninstalled the application.")
        self._confirmed[member_id] = time.monotonic() + CONFIRMED_FOR

    def forget(self, member_id: str) -> None:
        self._confirmed.pop(member_id, None)
