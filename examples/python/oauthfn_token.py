"""Get a working access token from the oauthfn token function (boto3).

The app's role needs the stack's TokenReaderPolicy (output
TokenReaderPolicyArn); the function's ARN is the TokenFunctionArn output.

    from oauthfn_token import get_token, ReauthRequired, TryLater

    try:
        tok = get_token(TOKEN_FUNCTION_ARN, account_id)
    except ReauthRequired:
        # The refresh token is dead: send the user to connect again
        # (examples/python/connect.py: a new connect token, then /authorize).
        return redirect(connect_url(APP_KEY, AUTHORIZE_URL, current_user.id))
    except TryLater as e:
        retry_in(e.retry_after_s)
    requests.get(api_url, headers={"Authorization": "Bearer " + tok["access_token"]})

The token is never cached here: each call asks the function, which serves
the stored token while it lives and refreshes it (once, under a lease) when
it is about to expire.
"""

import json

import boto3


class TokenError(Exception):
    """An expected failure the token function answered (its "error" field)."""

    def __init__(self, code, description, retry_after_s=None):
        super().__init__(f"{code}: {description}")
        self.code = code
        self.description = description
        self.retry_after_s = retry_after_s


class NotConnected(TokenError):
    """No connection for this account (not_found)."""


class ReauthRequired(TokenError):
    """The user must connect again (reauth_required)."""


class TryLater(TokenError):
    """rate_limited or busy: try again after retry_after_s seconds."""


class InvalidRequest(TokenError):
    """The request was malformed (invalid_request)."""


_ERRORS = {
    "not_found": NotConnected,
    "reauth_required": ReauthRequired,
    "rate_limited": TryLater,
    "busy": TryLater,
    "invalid_request": InvalidRequest,
}


def invoke(function_name, request, client=None):
    """Invokes the token function with request (a dict) and returns its answer.

    Raises the TokenError subclass for an expected failure, RuntimeError for
    a function error (an internal fault: see the function's logs).
    """
    client = client or boto3.client("lambda")
    resp = client.invoke(FunctionName=function_name, Payload=json.dumps(request).encode())
    body = json.loads(resp["Payload"].read() or b"null")
    if resp.get("FunctionError"):
        raise RuntimeError(f"token function failed: {body.get('errorMessage') if isinstance(body, dict) else body}")
    err = body.get("error")
    if err:
        cls = _ERRORS.get(err, TokenError)
        raise cls(err, body.get("error_description", ""), body.get("retry_after_s"))
    return body


def get_token(function_name, account_id, client=None):
    """Returns {"access_token", "token_type", "expires_at", "account_id", "end_user", "scope"}."""
    return invoke(function_name, {"account_id": account_id}, client)


def connections_of(function_name, end_user, client=None):
    """Returns the end user's connections, without tokens: a list of
    {"account_id", "status", "access_expires_at", "refresh_expires_at"}."""
    return invoke(function_name, {"end_user": end_user}, client)["connections"]
