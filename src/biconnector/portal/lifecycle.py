"""The application's life on a portal: install, uninstall and re-registration.

Synchronous, like the SDK it uses: the web layer runs these methods in worker threads.
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from b24pysdk.errors import BitrixAPIError, BitrixSDKException
from b24pysdk.errors.oauth import BitrixOAuthInvalidGrant

from biconnector.errors import InstallRefused, NotConfigured, NotFound, PortalError
from biconnector.portal import bitrix, connectors
from biconnector.portal.events import read_event
from biconnector.portal.keys import UnreadableToken
from biconnector.portal.store import Portal, PortalMissing, Portals, Tokens
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
        event = read_event(payload, "ONAPPINSTALL")
        assert event.tokens is not None  # an install event's are read or refused
        with _portal_errors("The OAuth server"):
            try:
                info = self.application.get_app_info(event.tokens.access_token).result
            except BitrixAPIError as exc:
                logger.warning("app.info refused the install event's token: %s", exc.error)
                raise InstallRefused(
                    "The OAuth server did not confirm the install event's token."
                ) from exc
        if info.client_id != self.application.client_id:
            raise InstallRefused("The install event's token belongs to another application.")
        if info.install.member_id != event.member_id:
            raise InstallRefused("The install event names another portal than its token.")
        # From here on only what the OAuth server said is used, never the event's own claims.
        portal = Portal(
            member_id=str(info.install.member_id),
            domain=str(info.install.domain),
            client_endpoint=str(info.install.client_endpoint),
            scope=",".join(info.scope),
            tokens=event.tokens,
            installed_at=datetime.datetime.now(datetime.UTC),
        )
        self.portals.save(portal, event.application_token)
        logger.info("installed on portal %s (member %s)", portal.domain, portal.member_id)
        return portal, self.register(portal)

    def uninstall(self, payload: Mapping[str, Any]) -> str | None:
        """Forget the portal of an ONAPPUNINSTALL event carrying its application token;
        its member id, or None when it was not installed."""
        event = read_event(payload, "ONAPPUNINSTALL")
        member_id = event.member_id
        if not self.portals.has_application_token(member_id, event.application_token):
            if self.portals.installed(member_id):
                logger.warning(
                    "refused an uninstall event for %s: wrong application token", member_id
                )
                raise InstallRefused("The uninstall event's application token is not the portal's.")
            return None
        self.portals.forget(member_id)
        logger.info("uninstalled from portal %s (member %s)", event.domain, member_id)
        return member_id

    def register(self, portal: Portal) -> list[connectors.Registered]:
        """Add or update the portal's connectors with URLs that carry its credential."""
        self._need_credentials()
        client = bitrix.client(portal, self.application, self.portals)
        with _portal_errors(f"The portal {portal.domain}"):
            credential = self.portals.keys.credential(portal.member_id)
            done = connectors.register(client, self.settings.app_domain, credential)
        for item in done:
            logger.info(
                "%s the %s connector %d on %s",
                "added" if item.added else "updated",
                item.engine,
                item.id,
                portal.domain,
            )
        return done

    def renew(self, portal: Portal) -> None:
        """Renew the portal's tokens now. A refresh token lapses when unused for long
        (Bitrix24: 180 days), and connector calls never use it; `biconnector portals renew`
        run regularly keeps every portal registrable."""
        self._need_credentials()
        with _portal_errors(f"The portal {portal.domain}"):
            self.portals.renew(portal.member_id, portal.tokens.access_token, self._renewed)

    def _renewed(self, refresh_token: str) -> Tokens:
        return self.application.renew(refresh_token)

    def _need_credentials(self) -> None:
        if not self.application.configured:
            raise NotConfigured(
                "Set BITRIX24_CLIENT_ID and BITRIX24_CLIENT_SECRET (the application's client "
                "id and secret from the portal) to install the application."
            )


@contextmanager
def _portal_errors(who: str) -> Iterator[None]:
    """SDK failures as errors the caller can act on; their text, which can hold URLs with
    tokens, goes to the log only as its class and code."""
    try:
        yield
    except BitrixOAuthInvalidGrant as exc:
        logger.warning("the OAuth server refused to renew the tokens (%s)", who)
        raise PortalError(
            "The OAuth server no longer renews this portal's tokens (invalid_grant): "
            "reinstall the application on the portal."
        ) from exc
    except (BitrixAPIError, connectors.Refused) as exc:
        logger.warning("%s answered %s: %s", who, exc.__class__.__name__, exc.error)
        raise PortalError(f"{who} refused the request ({exc.error}).") from exc
    except (BitrixSDKException, bitrix.RenewalUnreadable) as exc:
        # Transport failures, and answers that are not what Bitrix24 sends.
        logger.warning("%s could not be used: %s", who, exc.__class__.__name__)
        raise PortalError(f"{who} could not be reached or gave no usable answer.") from exc
    except PortalMissing as exc:
        raise NotFound(f"{who} has uninstalled the application meanwhile.") from exc
    except UnreadableToken as exc:
        raise NotConfigured(str(exc)) from exc
