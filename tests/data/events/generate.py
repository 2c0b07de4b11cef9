#!/usr/bin/env python3
"""Regenerates the event fixtures. Shapes follow the AWS Lambda developer guide samples
(and aws_lambda_events' test fixtures); payloads are an order document.

Run: python3 tests/data/events/generate.py   (from the repository root or anywhere)
"""
import base64, copy, gzip, json, os

HERE = os.path.dirname(os.path.abspath(__file__))

VALID = {"orderId": "6f1c2d3e-4b5a-4c7d-9e8f-0a1b2c3d4e5f", "customerEmail": "jane@example.com",
         "quantity": 2, "createdAt": "2024-05-01T12:30:00Z"}
# Every value is a marker string the masking tests look for in rejections.
INVALID = {"orderId": "SECRET-ORDER-ID-not-a-uuid", "customerEmail": "SECRET-not-an-email",
           "quantity": 0, "createdAt": "SECRET-yesterday"}

def js(o):
    return json.dumps(o, separators=(",", ":"))

def b64(b):
    return base64.b64encode(b).decode()

def write(name, event):
    with open(os.path.join(HERE, name), "w") as f:
        json.dump(event, f, indent=2)
        f.write("\n")

HEADERS = {"accept": "application/json", "content-type": "application/json", "host": "api.example.com",
           "user-agent": "curl/8.5.0", "x-amzn-trace-id": "Root=1-6634f2a1-0123456789abcdef01234567",
           "x-forwarded-for": "203.0.113.10", "x-forwarded-port": "443", "x-forwarded-proto": "https"}

def apigw_v1(body, b64enc=False):
    return {
        "resource": "/orders", "path": "/orders", "httpMethod": "POST",
        "headers": HEADERS, "multiValueHeaders": {k: [v] for k, v in HEADERS.items()},
        "queryStringParameters": None, "multiValueQueryStringParameters": None,
        "pathParameters": None, "stageVariables": None,
        "requestContext": {
            "accountId": "123456789012", "apiId": "1234567890", "resourceId": "abc123",
            "resourcePath": "/orders", "httpMethod": "POST", "extendedRequestId": "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
            "requestTime": "01/May/2024:12:30:00 +0000", "path": "/prod/orders", "protocol": "HTTP/1.1",
            "stage": "prod", "domainPrefix": "api", "requestTimeEpoch": 1714566600000,
            "requestId": "c6af9ac6-7b61-11e6-9a41-93e8deadbeef", "domainName": "api.example.com",
            "identity": {"cognitoIdentityPoolId": None, "accountId": None, "cognitoIdentityId": None,
                         "caller": None, "sourceIp": "203.0.113.10", "principalOrgId": None,
                         "accessKey": None, "cognitoAuthenticationType": None,
                         "cognitoAuthenticationProvider": None, "userArn": None,
                         "userAgent": "curl/8.5.0", "user": None},
        },
        "body": body, "isBase64Encoded": b64enc,
    }

def apigw_v2(body, b64enc=False, function_url=False):
    domain = "abcdefg.lambda-url.us-east-1.on.aws" if function_url else "api.example.com"
    ev = {
        "version": "2.0", "routeKey": "$default" if function_url else "POST /orders",
        "rawPath": "/orders", "rawQueryString": "", "cookies": ["session=abc"],
        "headers": dict(HEADERS, host=domain),
        "requestContext": {
            "accountId": "123456789012" if not function_url else "anonymous",
            "apiId": "abcdefg" if function_url else "api-id", "domainName": domain,
            "domainPrefix": "abcdefg" if function_url else "api",
            "http": {"method": "POST", "path": "/orders", "protocol": "HTTP/1.1",
                     "sourceIp": "203.0.113.10", "userAgent": "curl/8.5.0"},
            "requestId": "id", "routeKey": "$default" if function_url else "POST /orders",
            "stage": "$default", "time": "01/May/2024:12:30:00 +0000", "timeEpoch": 1714566600000,
        },
        "body": body, "isBase64Encoded": b64enc,
    }
    if not function_url:
        ev["pathParameters"] = {}
        ev["stageVariables"] = {}
    return ev

def alb(body, b64enc=False, multi=False):
    ev = {
        "requestContext": {"elb": {"targetGroupArn": "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/lambda-279XGJDqGZ5rsrHC2Fjr/49e9d65c45c6791a"}},
        "httpMethod": "POST", "path": "/orders",
        "body": body, "isBase64Encoded": b64enc,
    }
    if multi:
        ev["multiValueQueryStringParameters"] = {}
        ev["multiValueHeaders"] = {k: [v] for k, v in HEADERS.items()}
    else:
        ev["queryStringParameters"] = {}
        ev["headers"] = HEADERS
    return ev

def sqs_record(i, body, fifo=False):
    q = "orders.fifo" if fifo else "orders"
    r = {
        "messageId": f"059f36b4-87a3-44ab-83d2-66197570{i:04d}",
        "receiptHandle": "AQEBwJnKyrHigUMZj6rYigCgxlaS3SLy0a...",
        "body": body,
        "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1545082649183",
                       "SenderId": "AIDAIENQZJOLO23YVJ4VO", "ApproximateFirstReceiveTimestamp": "1545082649185"},
        "messageAttributes": {}, "md5OfBody": "e4e68fb7bd0e697a0ae8f1bb342846b3",
        "eventSource": "aws:sqs", "eventSourceARN": f"arn:aws:sqs:us-east-1:123456789012:{q}",
        "awsRegion": "us-east-1",
    }
    if fifo:
        r["attributes"].update({"SequenceNumber": f"1869{i:04d}0000000", "MessageGroupId": "orders",
                                "MessageDeduplicationId": f"dedup-{i}"})
    return r

def sns(message):
    return {"Records": [{
        "EventSource": "aws:sns", "EventVersion": "1.0",
        "EventSubscriptionArn": "arn:aws:sns:us-east-1:123456789012:orders:c9135db0-26c4-47ec-8998-413945fb5a96",
        "Sns": {"Type": "Notification", "MessageId": "95df01b4-ee98-5cb9-9903-4c221d41eb5e",
                "TopicArn": "arn:aws:sns:us-east-1:123456789012:orders", "Subject": "order",
                "Message": message, "Timestamp": "2024-05-01T12:30:00.000Z", "SignatureVersion": "1",
                "Signature": "tcc6faL2yUC6dgZdmrwh1Y4cGa/ebXEkAi6RibDsvpi+tE/1+82j...65r==",
                "SigningCertUrl": "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-ac565b8b1a6c5d002d285f9598aa1d9b.pem",
                "UnsubscribeUrl": "https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe",
                "MessageAttributes": {}}}]}

def eventbridge(detail):
    ev = {"version": "0", "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718", "detail-type": "OrderPlaced",
          "source": "com.example.orders", "account": "123456789012", "time": "2024-05-01T12:30:00Z",
          "region": "us-east-1", "resources": []}
    if detail is not None:
        ev["detail"] = detail
    return ev

def kinesis(datas):
    return {"Records": [{
        "kinesis": {"kinesisSchemaVersion": "1.0", "partitionKey": "1",
                    "sequenceNumber": f"4959033082938405719283213459999926008829004611100000{i}",
                    "data": d, "approximateArrivalTimestamp": 1545084650.987},
        "eventSource": "aws:kinesis", "eventVersion": "1.0",
        "eventID": f"shardId-000000000006:4959033082938405719283213459999926008829004611100000{i}",
        "eventName": "aws:kinesis:record", "invokeIdentityArn": "arn:aws:iam::123456789012:role/lambda-role",
        "awsRegion": "us-east-1", "eventSourceARN": "arn:aws:kinesis:us-east-1:123456789012:stream/orders"}
        for i, d in enumerate(datas)]}

def cwl_doc(message):
    return {"messageType": "DATA_MESSAGE", "owner": "123456789012",
            "logGroup": "/aws/lambda/orders", "logStream": "2024/05/01/[$LATEST]a1b2c3d4e5f6",
            "subscriptionFilters": ["orders-filter"],
            "logEvents": [{"id": "31953106606966983378809025079804211143289615424298221568",
                           "timestamp": 1714566600000, "message": message}]}

def cwl(data):
    return {"awslogs": {"data": data}}

def gz(o):
    return b64(gzip.compress(js(o).encode(), mtime=0))

V, I = js(VALID), js(INVALID)
write("api_gateway_v1_valid.json", apigw_v1(V))
write("api_gateway_v1_base64_valid.json", apigw_v1(b64(V.encode()), True))
write("api_gateway_v1_invalid.json", apigw_v1(I))
write("api_gateway_v1_bad_base64.json", apigw_v1("SECRET-%%%not base64%%%", True))
write("api_gateway_v1_not_json.json", apigw_v1("orderId=SECRET-form-encoded&quantity=2"))
write("api_gateway_v1_no_body.json", apigw_v1(None))
write("api_gateway_v2_valid.json", apigw_v2(V))
write("api_gateway_v2_invalid.json", apigw_v2(I))
write("api_gateway_v2_base64_invalid.json", apigw_v2(b64(I.encode()), True))
write("api_gateway_v2_not_json.json", apigw_v2("<order>SECRET</order>"))
write("alb_valid.json", alb(V))
write("alb_invalid.json", alb(I))
write("alb_multi_value_invalid.json", alb(I, multi=True))
write("alb_bad_base64.json", alb("!!SECRET!!", True))
write("function_url_valid.json", apigw_v2(V, function_url=True))
write("function_url_invalid.json", apigw_v2(I, function_url=True))
write("function_url_not_json.json", apigw_v2("{\"orderId\": SECRET", function_url=True))
write("sqs_valid.json", {"Records": [sqs_record(0, V), sqs_record(1, V)]})
write("sqs_mixed.json", {"Records": [sqs_record(0, V), sqs_record(1, I), sqs_record(2, "SECRET plain text"), sqs_record(3, V)]})
write("sqs_fifo_mixed.json", {"Records": [sqs_record(0, V, True), sqs_record(1, I, True), sqs_record(2, V, True)]})
write("sns_valid.json", sns(V))
write("sns_invalid.json", sns(I))
write("sns_not_json.json", sns("SECRET plain text notification"))
write("eventbridge_valid.json", eventbridge(VALID))
write("eventbridge_invalid.json", eventbridge(INVALID))
write("eventbridge_no_detail.json", eventbridge(None))
write("kinesis_valid.json", kinesis([b64(V.encode()), b64(V.encode())]))
write("kinesis_invalid.json", kinesis([b64(V.encode()), b64(I.encode())]))
write("kinesis_bad_base64.json", kinesis(["SECRET***notbase64***"]))
write("kinesis_not_json.json", kinesis([b64(b"SECRET binary \x00\x01 payload")]))
write("cloudwatch_logs_valid.json", cwl(gz(cwl_doc(V))))
write("cloudwatch_logs_invalid.json", cwl(gz(cwl_doc(I))))
write("cloudwatch_logs_bad_gzip.json", cwl(b64(b"SECRET this is not gzip at all")))
write("cloudwatch_logs_bad_base64.json", cwl("SECRET~~not base64~~"))
# A gzip bomb: 64 MiB of spaces compressed to ~64 KiB.
write("cloudwatch_logs_gzip_bomb.json", cwl(b64(gzip.compress(b" " * (64 << 20), mtime=0))))
