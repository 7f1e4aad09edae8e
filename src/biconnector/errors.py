"""The exceptions the service raises on purpose, each carrying what the client is told.

Every message is written for the person who fills in the source in Bitrix24: it says what
to fix and never repeats a password, SQL text or a driver's internals.
"""

from __future__ import annotations


class ConnectorError(Exception):
    """Root of the service's own errors; rendered as one JSON error shape."""

    status_code = 500
    code = "internal_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidRequest(ConnectorError):
    """The request's parameters are missing or malformed."""

    status_code = 400
    code = "invalid_request"


class PayloadTooLarge(InvalidRequest):
    """The body is larger than any call needs."""

    status_code = 413
    code = "payload_too_large"


class TooManyExports(ConnectorError):
    """As many exports from one database host as allowed are running already."""

    status_code = 429
    code = "too_many_exports"


class UnsupportedParameter(InvalidRequest):
    """The request asks for something this version cannot apply exactly."""

    code = "unsupported_parameter"


class NotFound(ConnectorError):
    """An engine, an action, a table or a field that does not exist."""

    status_code = 404
    code = "not_found"


class DatabaseError(ConnectorError):
    """The database could not be used with the given connection settings."""

    status_code = 502
    code = "database_error"


class AuthenticationFailed(DatabaseError):
    """The database refused the user name or the password."""

    status_code = 422
    code = "authentication_failed"


class UnknownDatabase(DatabaseError):
    """The database named in the settings does not exist or may not be used by this user."""

    status_code = 422
    code = "unknown_database"


class UnknownSchema(UnknownDatabase):
    """The schema named in the settings does not exist or may not be used by this user."""

    code = "unknown_schema"


class TlsRequired(DatabaseError):
    """The TLS mode asked for cannot be honoured by this server."""

    status_code = 422
    code = "tls_failed"


class HostRefused(ConnectorError):
    """The host is one the service may not connect to (DB_ALLOWED_HOSTS)."""

    status_code = 403
    code = "host_refused"


class HostUnreachable(DatabaseError):
    """Nothing answered at the host and port given."""

    status_code = 502
    code = "host_unreachable"


class DatabaseTimeout(DatabaseError):
    """The database did not answer within the configured time."""

    status_code = 504
    code = "timeout"


class NotReady(ConnectorError):
    """Something the service itself depends on cannot be used."""

    status_code = 503
    code = "not_ready"


class CredentialMissing(ConnectorError):
    """A connector URL without the portal credential, while unsigned calls are refused."""

    status_code = 403
    code = "credential_missing"


class CredentialInvalid(ConnectorError):
    """A portal credential that this service did not make, or of an uninstalled portal."""

    status_code = 403
    code = "credential_invalid"


class InstallRefused(ConnectorError):
    """An install or uninstall event that the OAuth server or the kept application token
    does not confirm."""

    status_code = 403
    code = "install_refused"


class PortalError(ConnectorError):
    """The portal's REST API or the OAuth server failed or could not be reached."""

    status_code = 502
    code = "portal_error"


class NotConfigured(ConnectorError):
    """The Bitrix24 application's credentials are not configured."""

    status_code = 503
    code = "not_configured"
