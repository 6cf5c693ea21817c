"""The GatewayError tree: every failure the relay reports, with its HTTP status and error type.

The error type is one of the gateway's own names (the seeds' list); each client codec turns it
into its API's error shape.
"""

__all__ = [
    "GatewayError", "InvalidRequest", "AuthError", "PermissionDenied", "UnknownModel", "RateLimited",
    "UpstreamTimeout", "UpstreamError", "NetworkError", "NoAccount", "PayloadTooLarge", "NotFound",
]


class GatewayError(Exception):
    status = 500
    error_type = "server_error"

    def __init__(self, message: str, *, status: int | None = None, param: str = "", retry_after: float | None = None):
        super().__init__(message)
        self.message = message
        self.param = param
        self.retry_after = retry_after
        if status is not None:
            self.status = status


class InvalidRequest(GatewayError):
    status = 400
    error_type = "invalid_request"


class PayloadTooLarge(InvalidRequest):
    status = 413


class NotFound(InvalidRequest):
    status = 404


class AuthError(GatewayError):
    status = 401
    error_type = "auth"


class PermissionDenied(AuthError):
    status = 403


class UnknownModel(GatewayError):
    status = 404
    error_type = "unknown_model"


class RateLimited(GatewayError):
    status = 429
    error_type = "rate_limit"


class UpstreamTimeout(GatewayError):
    status = 504
    error_type = "timeout"


class UpstreamError(GatewayError):
    """The upstream answered with an error; ``status`` is the status the client gets."""

    status = 502
    error_type = "server_error"

    def __init__(self, message: str, *, status: int = 502, error_type: str = "server_error",
                 retry_after: float | None = None, upstream_status: int = 0):
        super().__init__(message, status=status, retry_after=retry_after)
        self.error_type = error_type
        self.upstream_status = upstream_status


class NetworkError(GatewayError):
    status = 502
    error_type = "network"


class NoAccount(GatewayError):
    """No account can serve the request right now."""

    status = 503
    error_type = "server_error"
