import json


def lambda_handler(event, context):
    """Called once per request with an API Gateway proxy event; returns the HTTP answer."""
    params = event.get("queryStringParameters") or {}
    name = params.get("name", "World")
    return {
        "statusCode": 200,
        "headers": {"Content-Type": "application/json"},
        "body": json.dumps({"message": f"Hello, {name}!", "method": event["httpMethod"]}),
    }
