"""Serves handle(event, context) over HTTP for skiff-watchdog (http mode), standard library only — the handler
shape of OpenFaaS's python3-http template, without Flask.

event.body (bytes), event.headers, event.method, event.query, event.path; the handler returns a dict
{statusCode, headers, body}, or a str or bytes (200). An exception is a 500 with its text; the traceback goes
to the function's log.
"""
import json
import sys
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import handler


class Event:
    def __init__(self, request, body):
        url = urlsplit(request.path)
        self.body = body
        self.headers = request.headers
        self.method = request.command
        self.query = {k: v[-1] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        self.path = url.path


class Context:
    def __init__(self):
        self.hostname = __import__("socket").gethostname()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def handle_any(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        try:
            result = handler.handle(Event(self, body), Context())
        except Exception as error:
            traceback.print_exc()
            self.answer(500, {"Content-Type": "text/plain"}, str(error).encode())
            return
        if isinstance(result, dict):
            data = result.get("body", b"")
            if isinstance(data, str):
                data = data.encode()
            elif not isinstance(data, (bytes, bytearray)):
                data = json.dumps(data).encode()
            self.answer(int(result.get("statusCode", 200)), result.get("headers") or {}, bytes(data))
        elif isinstance(result, (bytes, bytearray)):
            self.answer(200, {}, bytes(result))
        else:
            self.answer(200, {}, ("" if result is None else str(result)).encode())

    def answer(self, status, headers, data):
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, str(value))
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = handle_any

    def log_message(self, format, *args):
        pass


if __name__ == "__main__":
    server = ThreadingHTTPServer(("127.0.0.1", 5000), Handler)
    server.daemon_threads = True
    print("python3-http: serving handle on 127.0.0.1:5000", file=sys.stderr, flush=True)
    server.serve_forever()
