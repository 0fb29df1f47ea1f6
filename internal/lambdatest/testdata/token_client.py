"""Drives the token function under the Lambda emulator from Python, through
examples/python/oauthfn_token.py and boto3's lambda.invoke, as an app would.

  token_client.py cases <emulator url> <api url> <JSON list of requests>
      one JSON line per request: {"answer": ..., "api_status": N} or
      {"error": code, "class": exception class, "retry_after_s": N}
      (api_status: the provider API's answer to the token, for tokens)
  token_client.py concurrent <emulator url> <emulator url> <account>
      invokes both emulators at once; one JSON line: [answer, answer]
"""

import json
import os
import sys
import threading
import urllib.error
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "..", "examples", "python"))

import boto3  # noqa: E402
from botocore.config import Config  # noqa: E402

from oauthfn_token import TokenError, get_token, invoke  # noqa: E402

FUNCTION = "function"  # the emulator's only function


def client(url):
    return boto3.client(
        "lambda",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(retries={"max_attempts": 1}, read_timeout=90, connect_timeout=10),
    )


def api_status(api_url, token):
    req = urllib.request.Request(api_url, headers={"Authorization": "Bearer " + token})
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:  # a real answer: generous under load
            return resp.status
    except urllib.error.HTTPError as e:
        return e.code


def cases(url, api_url, requests):
    c = client(url)
    for req in requests:
        try:
            answer = invoke(FUNCTION, req, c)
            out = {"answer": answer}
            if "access_token" in answer:
                out["api_status"] = api_status(api_url, answer["access_token"])
        except TokenError as e:
            out = {"error": e.code, "class": type(e).__name__, "retry_after_s": e.retry_after_s}
        print(json.dumps(out), flush=True)


def concurrent(url_a, url_b, account):
    answers = [None, None]
    errors = []
    start = threading.Barrier(2)

    def run(i, url):
        c = client(url)
        start.wait()
        try:
            answers[i] = get_token(FUNCTION, account, c)
        except Exception as e:  # reported below
            errors.append(repr(e))

    threads = [threading.Thread(target=run, args=(i, u)) for i, u in enumerate((url_a, url_b))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        print(json.dumps({"errors": errors}), flush=True)
        sys.exit(1)
    print(json.dumps(answers), flush=True)


if __name__ == "__main__":
    mode = sys.argv[1]
    if mode == "cases":
        cases(sys.argv[2], sys.argv[3], json.loads(sys.argv[4]))
    elif mode == "concurrent":
        concurrent(sys.argv[2], sys.argv[3], sys.argv[4])
    else:
        sys.exit("unknown mode " + mode)
