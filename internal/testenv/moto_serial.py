"""moto_server with every request serialised behind one lock.

moto's own server (moto.server.main) runs its WSGI app with werkzeug's
threaded server, and a conditional write there is not atomic against a
concurrent request: two racing DeleteItem/UpdateItem calls can both pass
their condition. Real DynamoDB makes each conditional write atomic, and the
store's concurrency tests rely on that. This wrapper runs the same WSGI app
(DomainDispatcherApplication over create_backend_app, as moto.server.main
does) but holds one threading.Lock around each whole request, body included,
so requests run one at a time.

Usage: python3 moto_serial.py -p PORT [-H HOST]

-p 0 takes a free port (no pick-then-bind race with other processes); the
first line on standard output, "moto_serial listening on HOST:PORT", names
it.

The server exits when its standard input reaches end of file, so it dies
with the test binary that started it (which holds the other end of a pipe).
"""

import argparse
import os
import sys
import threading

from moto.server import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import make_server


class Serialised:
    """A WSGI middleware that runs one request at a time."""

    def __init__(self, app):
        self.app = app
        self.lock = threading.Lock()

    def __call__(self, environ, start_response):
        with self.lock:
            result = self.app(environ, start_response)
            try:
                body = list(result)
            finally:
                close = getattr(result, "close", None)
                if close is not None:
                    close()
        return body


def exit_on_stdin_eof():
    try:
        while sys.stdin.buffer.read(4096):
            pass
    finally:
        os._exit(0)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("-H", "--host", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, required=True)
    args = parser.parse_args()

    threading.Thread(target=exit_on_stdin_eof, daemon=True).start()
    app = DomainDispatcherApplication(create_backend_app)
    server = make_server(args.host, args.port, Serialised(app), threaded=True)
    os.environ.setdefault("MOTO_PORT", str(server.port))
    print(f"moto_serial listening on {args.host}:{server.port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
