"""oauthfn from a Python backend: the two calls an app makes (PyJWT).

key is the app key: the secret named by the stack's AppKeyArn output.
"""
import secrets
import time
import urllib.parse

import jwt


def connect_url(key, authorize_url, user, return_to=None, app_state=None):
    """Send your signed-in user's browser here to connect an account."""
    now = int(time.time())
    claims = {"aud": "oauthfn:connect", "sub": user, "iat": now, "exp": now + 600, "jti": secrets.token_urlsafe(16)}
    claims.update({k: v for k, v in (("return_to", return_to), ("app_state", app_state)) if v})
    token = jwt.encode(claims, key, algorithm="HS256")
    return authorize_url + "?" + urllib.parse.urlencode({"connect": token})


def verify_result(key, result):
    """Read ?result= where oauthfn sends the browser back. Raises unless
    oauthfn signed it; then claims["sub"] connected claims["account_id"]."""
    claims = jwt.decode(result, key, algorithms=["HS256"], audience="oauthfn:result",
                        options={"require": ["exp", "iat", "jti"]}, leeway=30)
    if claims.get("status") != "connected" or not claims.get("account_id"):
        raise jwt.InvalidTokenError("oauthfn: not a connected result")
    return claims


if __name__ == "__main__":
    # For the tests: connect.py url AUTHORIZE_URL USER [RETURN_TO [APP_STATE]]
    #                connect.py verify RESULT   (key in OAUTH_APP_KEY)
    import json
    import os
    import sys

    key, cmd, args = os.environ["OAUTH_APP_KEY"], sys.argv[1], sys.argv[2:]
    if cmd == "url":
        print(connect_url(key, *args))
    elif cmd == "verify":
        print(json.dumps(verify_result(key, args[0])))
    else:
        sys.exit("usage: connect.py url AUTHORIZE_URL USER [RETURN_TO [APP_STATE]] | verify RESULT")
