"""oauthfn from a Python backend: the three calls an app makes (PyJWT).

key is the app key: the secret named by the stack's AppKeyArn output.
"""
import json
import secrets
import time
import urllib.error
import urllib.parse
import urllib.request

import jwt


def connect_url(key, authorize_url, user, return_to=None, app_state=None):
    """Send your signed-in user's browser here to connect an account."""
    now = int(time.time())
    claims = {"aud": "oauthfn:connect", "sub": user, "iat": now, "exp": now + 600, "jti": secrets.token_urlsafe(16)}
    claims.update({k: v for k, v in (("return_to", return_to), ("app_state", app_state)) if v})
    token = jwt.encode(claims, key, algorithm="HS256")
    return authorize_url + "?" + urllib.parse.urlencode({"connect": token})


def verify_result(key, result, provider, app_state=None):
    """Read ?result= where oauthfn sends the browser back. Raises unless
    oauthfn signed it for provider (and, given app_state, for the link whose
    app_state it was: pass the nonce you kept in this browser's session).
    claims["sub"] is who made the link, not who finished it: a "pending"
    result waits for confirm or reject."""
    claims = jwt.decode(result, key, algorithms=["HS256"], audience="oauthfn:result",
                        options={"require": ["exp", "iat", "jti"]}, leeway=30)
    if (claims["exp"] - claims["iat"] > 300 or claims.get("provider") != provider
            or claims.get("status") not in ("pending", "connected") or not claims.get("account_id")
            or (app_state is not None and not secrets.compare_digest(str(claims.get("app_state", "")).encode(), app_state.encode()))):
        raise jwt.InvalidTokenError("oauthfn: not a result for " + provider)
    return claims


class ConfirmError(Exception):
    """POST /confirm refused: status 409 error "user_mismatch" (a link made
    for another user: oauthfn rejected it), 404 "not_found", 401 ..."""

    def __init__(self, status, error):
        super().__init__(f"oauthfn: confirm: {status} {error}")
        self.status, self.error = status, error


def confirm(key, confirm_url, claims, signed_in_user):
    """Attach a pending result's account to the user signed in to your app
    in the browser that brought it back: oauthfn answers 409 user_mismatch
    (and attaches nothing) unless that is the user the link was made for."""
    return _decide(key, confirm_url, claims["jti"], signed_in_user, "accept")


def reject(key, confirm_url, claims):
    """Refuse a pending result: oauthfn revokes the new session, attaches nothing."""
    return _decide(key, confirm_url, claims["jti"], claims["sub"], "reject")


def _decide(key, confirm_url, jti, user, decision):
    now = int(time.time())
    token = jwt.encode({"aud": "oauthfn:confirm", "sub": user, "jti": jti, "decision": decision,
                        "iat": now, "exp": now + 300}, key, algorithm="HS256")
    req = urllib.request.Request(confirm_url, data=json.dumps({"confirm": token}).encode(), method="POST",
                                 headers={"Content-Type": "application/json", "Accept": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return json.load(resp)  # {"status": "connected", "account_id": ...} or {"status": "rejected"}
    except urllib.error.HTTPError as e:
        try:
            error = json.load(e).get("error")
        except ValueError:
            error = None
        raise ConfirmError(e.code, error) from None


if __name__ == "__main__":
    # For the tests (key in OAUTH_APP_KEY):
    #   connect.py url AUTHORIZE_URL USER [RETURN_TO [APP_STATE]]
    #   connect.py verify RESULT PROVIDER [APP_STATE]
    #   connect.py confirm CONFIRM_URL RESULT PROVIDER SIGNED_IN_USER
    #   connect.py reject CONFIRM_URL RESULT PROVIDER
    import os
    import sys

    key, cmd, args = os.environ["OAUTH_APP_KEY"], sys.argv[1], sys.argv[2:]
    if cmd == "url":
        print(connect_url(key, *args))
    elif cmd == "verify":
        print(json.dumps(verify_result(key, *args)))
    elif cmd == "confirm":
        print(json.dumps(confirm(key, args[0], verify_result(key, args[1], args[2]), args[3])))
    elif cmd == "reject":
        print(json.dumps(reject(key, args[0], verify_result(key, args[1], args[2]))))
    else:
        sys.exit("usage: connect.py url AUTHORIZE_URL USER [RETURN_TO [APP_STATE]] | verify RESULT PROVIDER"
                 " | confirm CONFIRM_URL RESULT PROVIDER SIGNED_IN_USER | reject CONFIRM_URL RESULT PROVIDER")
