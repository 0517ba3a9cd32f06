"""moto's server, with one guarantee of the real services that moto lacks.

DynamoDB applies conditional writes to an item one at a time, and Secrets Manager
moves a secret's stages one request at a time. moto's threaded server runs requests
side by side without a lock, so two conditional UpdateItems can both pass their
condition (two workers would both win one lease). Requests to those two services
are serialized here; everything else (SQS long polls included) stays concurrent.

Usage: python moto-server.py HOST PORT
"""

import sys
import threading

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import run_simple

SERIALIZED_TARGETS = ("DynamoDB_20120810.", "secretsmanager.")


def serialize_targets(app, prefixes):
    locks = {prefix: threading.Lock() for prefix in prefixes}

    def wrapped(environ, start_response):
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        lock = next((locks[p] for p in prefixes if target.startswith(p)), None)
        if lock is None:
            return app(environ, start_response)
        with lock:
            # the body is produced inside the lock: moto answers with a complete list
            return list(app(environ, start_response))

    return wrapped


def main():
    host, port = sys.argv[1], int(sys.argv[2])
    app = DomainDispatcherApplication(create_backend_app)
    run_simple(
        host,
        port,
        serialize_targets(app, SERIALIZED_TARGETS),
        threaded=True,
        request_handler=MotoRequestHandler,
    )


if __name__ == "__main__":
    main()
