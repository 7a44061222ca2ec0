"""Serves lambda_handler(event, context) over HTTP for skiff-watchdog (http mode), standard library only.

Each request becomes an API Gateway REST proxy event (version 1.0); the handler's {statusCode, headers,
multiValueHeaders, body, isBase64Encoded} becomes the answer. A handler exception is a 500 with Lambda's
{errorMessage, errorType} and the traceback in the function's log.
"""
import base64
import json
import os
import sys
import time
import traceback
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import handler

FUNCTION_NAME = os.environ.get("OPENFAAS_NAME") or os.environ.get("HOSTNAME", "function")


def seconds(text, fallback=30.0):
    """A Go duration as the watchdog's exec_timeout takes it (500ms, 30s, 1m) or plain seconds."""
    for suffix, scale in (("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600)):
        if text.endswith(suffix):
            text, unit = text[: -len(suffix)], scale
            break
    else:
        unit = 1
    try:
        return float(text) * unit
    except ValueError:
        return fallback


TIMEOUT_MS = int(seconds(os.environ.get("exec_timeout", "30s")) * 1000)


class Context:
    """The parts of Lambda's context object that handlers use."""

    def __init__(self, request_id):
        self.function_name = FUNCTION_NAME
        self.function_version = "$LATEST"
        self.invoked_function_arn = "arn:skiff:function:" + FUNCTION_NAME
        self.memory_limit_in_mb = os.environ.get("SKIFF_MEMORY_MB", "128")
        self.aws_request_id = request_id
        self.log_group_name = "/skiff/" + FUNCTION_NAME
        self.log_stream_name = os.environ.get("HOSTNAME", "")
        self._deadline = time.time() * 1000 + TIMEOUT_MS

    def get_remaining_time_in_millis(self):
        return max(0, int(self._deadline - time.time() * 1000))


def is_text(content_type):
    kind = (content_type or "").split(";")[0].strip().lower()
    return kind == "" or kind.startswith("text/") or kind in (
        "application/json", "application/xml", "application/x-www-form-urlencoded", "application/javascript")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def handle_any(self):
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        url = urlsplit(self.path)
        query = parse_qs(url.query, keep_blank_values=True)
        request_id = self.headers.get("X-Call-Id") or str(uuid.uuid4())
        text = is_text(self.headers.get("Content-Type"))
        event = {
            "resource": url.path,
            "path": url.path,
            "httpMethod": self.command,
            "headers": {k: v for k, v in self.headers.items()},
            "multiValueHeaders": {k: self.headers.get_all(k) for k in self.headers.keys()},
            "queryStringParameters": {k: v[-1] for k, v in query.items()} or None,
            "multiValueQueryStringParameters": query or None,
            "pathParameters": None,
            "stageVariables": None,
            "requestContext": {
                "requestId": request_id,
                "httpMethod": self.command,
                "path": url.path,
                "stage": "skiff",
                "requestTimeEpoch": int(time.time() * 1000),
                "identity": {"sourceIp": (self.headers.get("X-Forwarded-For") or "").split(",")[0].strip()},
            },
            "body": (raw.decode("utf-8", "replace") if text else base64.b64encode(raw).decode()) if raw else None,
            "isBase64Encoded": bool(raw) and not text,
        }
        try:
            result = handler.lambda_handler(event, Context(request_id))
        except Exception as error:
            traceback.print_exc()
            self.answer(500, {"Content-Type": "application/json"}, {}, json.dumps(
                {"errorMessage": str(error), "errorType": type(error).__name__}).encode())
            return
        if isinstance(result, dict) and "statusCode" in result:
            body = result.get("body")
            if body is None:
                data = b""
            elif result.get("isBase64Encoded"):
                data = base64.b64decode(body)
            elif isinstance(body, (bytes, bytearray)):
                data = bytes(body)
            elif isinstance(body, str):
                data = body.encode()
            else:
                data = json.dumps(body).encode()
            self.answer(int(result["statusCode"]), result.get("headers") or {},
                        result.get("multiValueHeaders") or {}, data)
        else:
            # Not a proxy answer: Lambda would serialise the value as JSON.
            self.answer(200, {"Content-Type": "application/json"}, {}, json.dumps(result).encode())

    def answer(self, status, headers, multi, data):
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, str(value))
        for key, values in multi.items():
            for value in values:
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
    print("python3-lambda: serving lambda_handler on 127.0.0.1:5000", file=sys.stderr, flush=True)
    server.serve_forever()
