"""The application's life on a portal: install, uninstall and re-registration.

Synchronous, like the SDK it uses: the web layer runs these methods in worker threads.
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from b24pysdk.credentials.oauth_event_data import OAuthEventData
from b24pysdk.errors import (
    BitrixAPIError,
    BitrixRequestError,
    BitrixResponseError,
    BitrixSDKException,
)

from biconnector.errors import (
    InstallRefused,
    InvalidRequest,
    NotConfigured,
    PortalError,
)
from biconnector.portal import bitrix, connectors
from biconnector.portal.store import Portal, Portals, Tokens
from biconnector.settings import Settings

logger = logging.getLogger(__name__)


class Lifecycle:
    """The installed portals and what is done with them."""

    def __init__(self, settings: Settings, portals: Portals | None = None) -> None:
        self.settings = settings
        self.portals = portals or Portals.of(settings)
        self.application = bitrix.Application(settings)
        bitrix.trust(settings.bitrix24_ca_file, settings.state_dir)

    def close(self) -> None:
        self.portals.close()

    def install(self, payload: Mapping[str, Any]) -> tuple[Portal, list[connectors.Registered]]:
        """Keep the portal of an ONAPPINSTALL event once the OAuth server has confirmed
        its token, then register the connectors there."""
        self._need_credentials()
        event = _event(payload, "ONAPPINSTALL")
        token = event.auth.oauth_token
        if token is None:
            raise InvalidRequest("The install event carries no access token (auth[access_token]).")
        with _portal_errors("The OAuth server"):
            try:
                info = self.application.get_app_info(token.access_token).result
            except BitrixAPIError as exc:
                logger.warning("app.info refused the install event's token: %s", exc.error)
                raise InstallRefused(
                    "The OAuth server did not confirm the install event's token."
                ) from exc
        if info.client_id != self.application.client_id:
            raise InstallRefused("The install event's token belongs to another application.")
        if info.install.member_id != event.auth.member_id:
            raise InstallRefused("The install event names another portal than its token.")
        # From here on only what the OAuth server said is used, never the event's own claims.
        portal = Portal(
            member_id=info.install.member_id,
            domain=info.install.domain,
            client_endpoint=info.install.client_endpoint,
            scope=",".join(info.scope),
            tokens=Tokens(
                token.access_token, token.refresh_token or "", int(token.expires.timestamp())
            ),
            installed_at=datetime.datetime.now(datetime.UTC),
        )
        self.portals.save(portal, event.auth.application_token)
        logger.info("installed on portal %s (member %s)", portal.domain, portal.member_id)
        return portal, self.register(portal)

    def uninstall(self, payload: Mapping[str, Any]) -> str | None:
        """Forget the portal of an ONAPPUNINSTALL event carrying its application token;
        its member id, or None when it was not installed."""
        event = _event(payload, "ONAPPUNINSTALL")
        member_id = str(event.auth.member_id)
        if not self.portals.has_application_token(member_id, event.auth.application_token):
            if self.portals.installed(member_id):
                logger.warning(
                    "refused an uninstall event for %s: wrong application token", member_id
                )
                raise InstallRefused("The uninstall event's application token is not the portal's.")
            return None
        self.portals.forget(member_id)
        logger.info("uninstalled from portal %s (member %s)", event.auth.domain, member_id)
        return member_id

    def register(self, portal: Portal) -> list[connectors.Registered]:
        """Add or update the portal's connectors with URLs that carry its credential."""
        self._need_credentials()
        client = bitrix.client(portal, self.application, self.portals)
        with _portal_errors(f"The portal {portal.domain}"):
            done = connectors.register(client, self.settings.app_domain, self.credential(portal))
        for item in done:
            logger.info(
                "%s the %s connector %d on %s",
                "added" if item.added else "updated",
                item.engine,
                item.id,
                portal.domain,
            )
        return done

    def credential(self, portal: Portal) -> dict[str, str]:
        return self.portals.keys.credential(portal.member_id)

    def _need_credentials(self) -> None:
        if not self.application.configured:
            raise NotConfigured(
                "Set BITRIX24_CLIENT_ID and BITRIX24_CLIENT_SECRET (the application's client "
                "id and secret from the portal) to install the application."
            )


def _event(payload: Mapping[str, Any], expected: str) -> OAuthEventData:
    try:
        event = OAuthEventData.from_dict(payload)
    except BitrixSDKException as exc:
        raise InvalidRequest(
            f"This is not a Bitrix24 {expected} event: event, event_handler_id, ts and auth[...] "
            "with member_id, domain, client_endpoint, server_endpoint and application_token "
            "are expected."
        ) from exc
    if str(event.event).upper() != expected:
        raise InvalidRequest(f"Expected the {expected} event, got {event.event!r}.")
    return event


@contextmanager
def _portal_errors(who: str) -> Iterator[None]:
    """SDK failures as errors the caller can act on; their text, which can hold URLs with
    tokens, goes to the log only as its class and code."""
    try:
        yield
    except (BitrixAPIError, connectors.Refused) as exc:
        logger.warning("%s answered %s: %s", who, exc.__class__.__name__, exc.error)
        raise PortalError(f"{who} refused the request ({exc.error}).") from exc
    except (BitrixRequestError, BitrixResponseError) as exc:
        logger.warning("%s could not be used: %s", who, exc.__class__.__name__)
        raise PortalError(f"{who} could not be reached or gave no usable answer.") from exc
