"""The events Bitrix24 posts to the application, read as documented.

The SDK's own event model wants fields that the documented install callback of an
application using only the API does not carry (`event_handler_id`, `auth[expires]`,
`auth[user_id]`), so the two events are read here, and everything in them stays a claim
until the OAuth server or the kept application token confirms it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from biconnector.errors import InvalidRequest
from biconnector.portal.store import Tokens

# Bitrix24's member ids are 32 hex digits; anything of this alphabet and size is accepted.
_MEMBER_ID = re.compile(r"^[0-9A-Za-z_.-]{1,64}$")


@dataclass(frozen=True)
class Event:
    name: str
    member_id: str
    domain: str
    application_token: str
    # Present in an install event; an uninstall event carries no tokens.
    tokens: Tokens | None


def read_event(payload: Mapping[str, Any], expected: str) -> Event:
    """The event `expected` (ONAPPINSTALL or ONAPPUNINSTALL), or a 400 saying what is
    missing."""
    name = payload.get("event")
    if not isinstance(name, str) or name.upper() != expected:
        raise InvalidRequest(f"Expected the {expected} event in `event`, got {name!r}.")
    auth = payload.get("auth")
    if not isinstance(auth, Mapping):
        raise InvalidRequest(f"The {expected} event carries no auth[...] fields.")
    member_id = _text(auth, "member_id", expected)
    if not _MEMBER_ID.match(member_id):
        raise InvalidRequest("auth[member_id] is not a Bitrix24 member id.")
    tokens = None
    if expected == "ONAPPINSTALL":
        try:
            # Without a refresh token the portal could be served for an hour, then never.
            tokens = Tokens.read(auth, issued=payload.get("ts"))
        except KeyError as exc:
            raise InvalidRequest(f"The {expected} event carries no auth[{exc.args[0]}].") from exc
    return Event(
        name=expected,
        member_id=member_id,
        domain=_text(auth, "domain", expected),
        application_token=_text(auth, "application_token", expected),
        tokens=tokens,
    )


def _text(auth: Mapping[str, Any], name: str, event: str) -> str:
    value = auth.get(name)
    if not isinstance(value, str) or not value.strip():
        raise InvalidRequest(f"The {event} event carries no auth[{name}].")
    return value.strip()
