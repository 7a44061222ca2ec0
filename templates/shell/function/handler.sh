#!/bin/sh
# Called once per request: the request body is on stdin, what this prints is the answer.
# Request headers arrive as Http_* variables (Http_Method, Http_Path, Http_Query, Http_Content_Type, …).
body=$(cat)
echo "Hello from a shell function. You sent ${#body} bytes with $Http_Method."
