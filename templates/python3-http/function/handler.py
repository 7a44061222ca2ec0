def handle(event, context):
    """Called once per request. event.body is bytes; event.headers, event.query, event.method, event.path."""
    return {
        "statusCode": 200,
        "headers": {"Content-Type": "text/plain"},
        "body": "Hello from python3-http. You said: " + event.body.decode("utf-8", "replace"),
    }
