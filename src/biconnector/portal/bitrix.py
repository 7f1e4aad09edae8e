"""The official SDK, b24pysdk, fitted to the service.

The SDK knows the token objects, the OAuth requests and the `biconnector.*` methods. Three
things are fitted here: its OAuth host is a class constant, so the application carries a
requester for the configured BITRIX24_OAUTH_URL; a renewal goes through the store's lock, so
that workers renewing at once spend the refresh token once; and BITRIX24_CA_FILE is added to
the CAs that `requests`, the SDK's HTTP library, trusts. The SDK is synchronous: everything
here runs in worker threads, never on the event loop.
"""

from __future__ import annotations

import datetime
import logging
import os
import tempfile
from pathlib import Path
from typing import Any

import certifi
from b24pysdk import AbstractBitrixApp, BitrixToken, Client
from b24pysdk.api.requesters import BitrixOAuthRequester
from b24pysdk.api.responses import BitrixAppInfoResponse
from b24pysdk.credentials.auth import RenewedOAuth

from biconnector import metrics
from biconnector.portal.store import EXPIRY_MARGIN, Portal, Portals, Tokens
from biconnector.settings import Settings

logger = logging.getLogger(__name__)

# At DEBUG, urllib3 (under requests) logs each request line, and the SDK's OAuth requests
# carry tokens and the client secret in their query strings.
logging.getLogger("urllib3").setLevel(logging.INFO)

# SDK calls that the portal refuses with 503 are tried this many times in all.
ATTEMPTS = 2


def _requester_class(oauth_url: str) -> type[Any]:
    class Requester(BitrixOAuthRequester):  # type: ignore[misc]
        _OAUTH_TOKEN_URL = f"{oauth_url}/oauth/token/"
        _APP_INFO_URL = f"{oauth_url}/rest/app.info/"

    return Requester


class Application(AbstractBitrixApp):  # type: ignore[misc]
    """This service as a Bitrix24 application: its client id and secret, its OAuth server."""

    def __init__(self, settings: Settings) -> None:
        secret = settings.bitrix24_client_secret
        self.client_id = settings.bitrix24_client_id
        self.client_secret = secret.get_secret_value() if secret else ""
        self.timeout = settings.bitrix24_timeout
        self._requester = _requester_class(settings.bitrix24_oauth_url)

    @property
    def configured(self) -> bool:
        return bool(self.client_id and self.client_secret)

    def _oauth(self, attempts: int = ATTEMPTS) -> Any:
        return self._requester(self, timeout=self.timeout, max_retries=attempts)

    def renew(self, refresh_token: str) -> Tokens:
        """A new token pair for a refresh token, which works once.

        The answer is read here rather than by the SDK's RenewedOAuth, which wants fields the
        documented answer need not carry (`expires`, `user_id`): once the OAuth server has
        answered, the old refresh token is spent, and the new one must not be lost to a
        parse error. One attempt only, so that the portal's row is not locked for long.
        """
        answer = self._oauth(attempts=1).refresh_oauth_token(refresh_token)
        try:
            return Tokens.read(answer)
        except KeyError as exc:
            raise RenewalUnreadable("The OAuth server's answer holds no token pair.") from exc

    # The SDK's own OAuth methods, overridden so that no path of the SDK reaches its built-in
    # OAuth host; the service itself renews through `renew`.
    def get_oauth_token(self, code: str, **kwargs: Any) -> RenewedOAuth:
        return RenewedOAuth.from_dict(self._oauth().get_oauth_token(code))

    def refresh_oauth_token(self, refresh_token: str, **kwargs: Any) -> RenewedOAuth:
        return RenewedOAuth.from_dict(self._oauth().refresh_oauth_token(refresh_token))

    def get_app_info(self, auth_token: str, **kwargs: Any) -> BitrixAppInfoResponse:
        return BitrixAppInfoResponse.from_dict(self._oauth().get_app_info(auth_token))


class PortalToken(BitrixToken):  # type: ignore[misc]
    """A portal's tokens, renewed through the store when the SDK finds them expired."""

    def __init__(self, portal: Portal, application: Application, portals: Portals) -> None:
        super().__init__(domain=portal.domain, auth_token="", bitrix_app=application)
        self.member_id = portal.member_id
        self._portals = portals
        self._use(portal.tokens)

    def _use(self, tokens: Tokens) -> None:
        self.auth_token = tokens.access_token
        self.refresh_token = tokens.refresh_token
        # Renewed a little early, so that a token never expires between check and call.
        self.expires = datetime.datetime.fromtimestamp(
            tokens.expires_at - EXPIRY_MARGIN, datetime.UTC
        )

    def refresh_and_set_oauth_token(self, **kwargs: Any) -> None:
        self._use(self._portals.renew(self.member_id, self.auth_token, self._refresh))

    def _refresh(self, refresh_token: str) -> Tokens:
        try:
            tokens: Tokens = self.bitrix_app.renew(refresh_token)
        except Exception:
            metrics.RENEWALS.labels("failed").inc()
            raise
        metrics.RENEWALS.labels("renewed").inc()
        logger.info("renewed the access token of portal %s", self.domain)
        return tokens


class RenewalUnreadable(Exception):
    """The OAuth server answered a renewal with something that is not a token pair."""


def client(portal: Portal, application: Application, portals: Portals) -> Any:
    """An SDK client that calls the portal's REST API with its tokens."""
    token = PortalToken(portal, application, portals)
    return Client(token, timeout=application.timeout, max_retries=ATTEMPTS)


def trust(ca_file: Path | None, state_dir: Path) -> None:
    """Make `requests` trust `ca_file` besides the public CAs (certifi's bundle)."""
    if ca_file is None:
        return
    bundle = state_dir / "bitrix24-ca-bundle.pem"
    bundle.parent.mkdir(parents=True, exist_ok=True)
    contents = Path(certifi.where()).read_bytes() + b"\n" + ca_file.read_bytes()
    # Written aside and renamed, so that no process or thread ever reads half a bundle.
    handle, temporary = tempfile.mkstemp(dir=bundle.parent, prefix=".ca-bundle-")
    with os.fdopen(handle, "wb") as file:
        file.write(contents)
    os.replace(temporary, bundle)
    # requests reads it on every call it makes without an explicit `verify`, as the SDK's do.
    os.environ["REQUESTS_CA_BUNDLE"] = str(bundle)
