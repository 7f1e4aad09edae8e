"""The keys the application derives from APP_SECRET: one signs the connector URLs of each
portal, one encrypts the portals' tokens at rest, one fingerprints application tokens."""

from __future__ import annotations

import base64
import hashlib
import hmac

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

# The query parameters of a signed connector URL.
MEMBER_PARAMETER = "member_id"
SIGNATURE_PARAMETER = "signature"


class UnreadableToken(Exception):
    """A stored token that this APP_SECRET did not encrypt."""


def _derive(secret: bytes, purpose: str) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose.encode()).derive(
        secret
    )


class Keys:
    """Everything that needs the server secret, so that nothing else touches it."""

    def __init__(self, secret: bytes) -> None:
        self._signing = _derive(secret, "biconnector connector-url signature")
        self._fingerprints = _derive(secret, "biconnector application-token fingerprint")
        self._fernet = Fernet(
            base64.urlsafe_b64encode(_derive(secret, "biconnector token encryption"))
        )

    def signature(self, member_id: str) -> str:
        """The credential that the connector URLs of one portal carry."""
        digest = hmac.new(self._signing, member_id.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()

    def signed(self, member_id: str, signature: str) -> bool:
        # As bytes: compare_digest refuses str with characters beyond ASCII.
        return hmac.compare_digest(self.signature(member_id).encode(), signature.encode())

    def credential(self, member_id: str) -> dict[str, str]:
        """The query parameters the portal's connector URLs carry."""
        return {MEMBER_PARAMETER: member_id, SIGNATURE_PARAMETER: self.signature(member_id)}

    def fingerprint(self, application_token: str) -> str:
        """What is kept of a portal's application token: enough to compare, not to reuse."""
        return hmac.new(self._fingerprints, application_token.encode(), hashlib.sha256).hexdigest()

    def encrypt(self, text: str) -> str:
        return self._fernet.encrypt(text.encode()).decode()

    def decrypt(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode()).decode()
        except InvalidToken as exc:
            raise UnreadableToken(
                "A stored token cannot be decrypted: APP_SECRET is not the one it was stored with."
            ) from exc
