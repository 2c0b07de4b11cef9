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

# ---------------------------------------------------------------- issue 16: every Powertools source

def websocket(body):
    return {
        "requestContext": {
            "routeKey": "sendOrder", "messageId": "GXLKJfX4FiACG1w=", "eventType": "MESSAGE",
            "extendedRequestId": "GXLKJHGFHEMFcQ=", "requestTime": "01/May/2024:12:30:00 +0000",
            "messageDirection": "IN", "stage": "prod", "connectedAt": 1714566500000,
            "requestTimeEpoch": 1714566600000, "identity": {"sourceIp": "203.0.113.10"},
            "requestId": "GXLKJHGFHEMFcQ=", "domainName": "ws.example.com",
            "connectionId": "GXLKAfX1FiACHMw=", "apiId": "r9l1bxn3kc",
        },
        "body": body, "isBase64Encoded": False,
    }

def lattice_v1(body, b64enc=False):
    return {"raw_path": "/orders", "method": "POST",
            "headers": {"content-type": "application/json", "x-forwarded-for": "10.0.0.1"},
            "query_string_parameters": {}, "body": body, "is_base64_encoded": b64enc}

def lattice_v2(body):
    return {"version": "2.0", "path": "/orders", "method": "POST",
            "headers": {"content-type": ["application/json"], "x-forwarded-for": ["10.0.0.1"]},
            "queryStringParameters": {}, "body": body, "isBase64Encoded": False,
            "requestContext": {
                "serviceNetworkArn": "arn:aws:vpc-lattice:us-east-1:123456789012:servicenetwork/sn-0bf3f2882e9cc805a",
                "serviceArn": "arn:aws:vpc-lattice:us-east-1:123456789012:service/svc-0a40eebed65f8d69c",
                "targetGroupArn": "arn:aws:vpc-lattice:us-east-1:123456789012:targetgroup/tg-6d0ecf831eec9f09",
                "identity": {"sourceVpcArn": "arn:aws:ec2:us-east-1:123456789012:vpc/vpc-0b8276c84697e7339",
                             "type": "AWS_IAM"},
                "region": "us-east-1", "timeEpoch": "1714566600000000"}}

def sns_notification(message):
    return {"Type": "Notification", "MessageId": "95df01b4-ee98-5cb9-9903-4c221d41eb5e",
            "TopicArn": "arn:aws:sns:us-east-1:123456789012:orders", "Message": message,
            "Timestamp": "2024-05-01T12:30:00.000Z", "SignatureVersion": "1",
            "Signature": "tcc6faL2yUC6dgZdmrwh1Y4cGa/ebXEkAi6RibDsvpi+tE/1+82j...65r==",
            "SigningCertURL": "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-ac565b8b1a6c5d002d285f9598aa1d9b.pem",
            "UnsubscribeURL": "https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe"}

def scheduled(detail):
    return {"version": "0", "id": "89d1a02d-5ec7-412e-82f5-13505f849b41", "detail-type": "Scheduled Event",
            "source": "aws.events", "account": "123456789012", "time": "2024-05-01T12:30:00Z",
            "region": "us-east-1", "resources": ["arn:aws:events:us-east-1:123456789012:rule/nightly"],
            "detail": detail}

def firehose(datas):
    return {"invocationId": "2b4d1ad9-2f48-94bd-a088-767c317e994a",
            "deliveryStreamArn": "arn:aws:firehose:us-east-1:123456789012:deliverystream/orders",
            "region": "us-east-1",
            "records": [{"recordId": f"4964476950213853582873592009553906040537094658000000{i}",
                         "approximateArrivalTimestamp": 1714566600000, "data": d}
                        for i, d in enumerate(datas)]}

def ddb_attr(v):
    if isinstance(v, bool):
        return {"BOOL": v}
    if isinstance(v, (int, float)):
        return {"N": str(v)}
    if isinstance(v, dict):
        return {"M": {k: ddb_attr(x) for k, x in v.items()}}
    if isinstance(v, list):
        return {"L": [ddb_attr(x) for x in v]}
    if v is None:
        return {"NULL": True}
    return {"S": v}

def ddb_record(i, new, old=None):
    d = {"ApproximateCreationDateTime": 1714566600, "Keys": {"orderId": {"S": new["orderId"]}},
         "NewImage": {k: ddb_attr(v) for k, v in new.items()},
         "SequenceNumber": f"1110000000000000000{i:04d}", "SizeBytes": 120,
         "StreamViewType": "NEW_AND_OLD_IMAGES"}
    if old is not None:
        d["OldImage"] = {k: ddb_attr(v) for k, v in old.items()}
    return {"eventID": f"c4ca4238a0b923820dcc509a6f75849{i}", "eventName": "MODIFY" if old else "INSERT",
            "eventVersion": "1.1", "eventSource": "aws:dynamodb", "awsRegion": "us-east-1",
            "dynamodb": d,
            "eventSourceARN": "arn:aws:dynamodb:us-east-1:123456789012:table/orders/stream/2024-05-01T00:00:00.000"}

def kafka(partitions, self_managed=False):
    ev = {"eventSource": "SelfManagedKafka" if self_managed else "aws:kafka",
          "bootstrapServers": "b-2.demo-cluster-1.a1bcde.c1.kafka.us-east-1.amazonaws.com:9092",
          "records": {}}
    if not self_managed:
        ev["eventSourceArn"] = "arn:aws:kafka:us-east-1:123456789012:cluster/demo-cluster-1/6357e0b2-0e6a-4b86-a0b4-70df934c2e31-5"
    for key, values in partitions.items():
        topic, part = key.rsplit("-", 1)
        ev["records"][key] = [{"topic": topic, "partition": int(part), "offset": 15 + j,
                               "timestamp": 1714566600000, "timestampType": "CREATE_TIME",
                               "key": b64(b"order"), "value": v,
                               "headers": [{"headerKey": [104, 101, 97, 100, 101, 114, 86, 97, 108, 117, 101]}]}
                              for j, v in enumerate(values)]
    return ev

def bedrock(input_text):
    return {"messageVersion": "1.0", "agent": {"alias": "TSTALIASID", "name": "orders-agent",
                                               "version": "DRAFT", "id": "8ZXY0W8P1H"},
            "inputText": input_text, "sessionId": "12345678912345", "actionGroup": "OrdersGroup",
            "apiPath": "/orders", "httpMethod": "POST", "sessionAttributes": {},
            "promptSessionAttributes": {},
            "requestBody": {"content": {"application/json": {"properties": []}}}}

S3_OK = {"bucket": "orders-uploads", "key": "uploads/2024/05/01/order.json", "size": 1024}
S3_BAD = {"bucket": "orders-uploads", "key": "SECRET/../../etc/passwd", "size": "SECRET-big"}

def s3_notification(o):
    return {"Records": [{
        "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1",
        "eventTime": "2024-05-01T12:30:00.000Z", "eventName": "ObjectCreated:Put",
        "userIdentity": {"principalId": "AWS:AIDAINPONIXQXHT3IKHL2"},
        "requestParameters": {"sourceIPAddress": "203.0.113.10"},
        "responseElements": {"x-amz-request-id": "D82B88E5F771F645", "x-amz-id-2": "vlR7PnpV2Ce81l0PRw6jlUpck7Jo5ZsQjryTjKlc5aLWGVHPZLj5NeC6qMa0emYBDXOo6QBU0Wo="},
        "s3": {"s3SchemaVersion": "1.0", "configurationId": "uploads",
               "bucket": {"name": o["bucket"], "ownerIdentity": {"principalId": "A3I5XTEXAMAI3E"},
                          "arn": "arn:aws:s3:::" + o["bucket"]},
               "object": {"key": o["key"], "size": o["size"], "eTag": "d41d8cd98f00b204e9800998ecf8427e",
                          "sequencer": "0055AED6DCD90281E5"}}}]}

def s3_eventbridge(o):
    return {"version": "0", "id": "17793124-05d4-b198-2fde-7ededc63b103", "detail-type": "Object Created",
            "source": "aws.s3", "account": "123456789012", "time": "2024-05-01T12:30:00Z",
            "region": "us-east-1", "resources": ["arn:aws:s3:::" + o["bucket"]],
            "detail": {"version": "0", "bucket": {"name": o["bucket"]},
                       "object": {"key": o["key"], "size": o["size"], "etag": "d41d8cd98f00b204e9800998ecf8427e",
                                  "sequencer": "00617F08299329D189"},
                       "request-id": "N4N7GDK58NMKJ12R", "requester": "123456789012",
                       "source-ip-address": "203.0.113.10", "reason": "PutObject"}}

def zlib_b64(s):
    import zlib
    return b64(zlib.compress(s.encode()))

write("api_gateway_websocket_valid.json", websocket(V))
write("api_gateway_websocket_invalid.json", websocket(I))
write("vpc_lattice_valid.json", lattice_v1(b64(V.encode()), True))
write("vpc_lattice_invalid.json", lattice_v1(I))
write("vpc_lattice_v2_valid.json", lattice_v2(V))
write("vpc_lattice_v2_invalid.json", lattice_v2(I))
write("sns_sqs_valid.json", {"Records": [sqs_record(0, js(sns_notification(V))), sqs_record(1, js(sns_notification(V)))]})
write("sns_sqs_invalid.json", {"Records": [sqs_record(0, js(sns_notification(V))), sqs_record(1, js(sns_notification(I)))]})
write("cloudwatch_events_scheduled_valid.json", scheduled(VALID))
write("cloudwatch_events_scheduled_invalid.json", scheduled(INVALID))
write("kinesis_firehose_valid.json", firehose([b64(V.encode()), b64(V.encode())]))
write("kinesis_firehose_invalid.json", firehose([b64(V.encode()), b64(I.encode()), b64(V.encode())]))
write("kinesis_zlib_valid.json", kinesis([zlib_b64(V), zlib_b64(V)]))
# The public report: a CloudWatch Logs subscription delivering to a Kinesis stream; each record's
# data is base64 of gzip-compressed JSON (the same document as awslogs.data).
write("kinesis_cloudwatch_logs_valid.json", kinesis([gz(cwl_doc(V)), gz(cwl_doc(V))]))
write("kinesis_cloudwatch_logs_invalid.json", kinesis([gz(cwl_doc(V)), gz(cwl_doc(I))]))
write("dynamodb_streams_valid.json", {"Records": [ddb_record(0, VALID), ddb_record(1, VALID, VALID)]})
write("dynamodb_streams_invalid.json", {"Records": [ddb_record(0, VALID), ddb_record(1, INVALID, VALID), ddb_record(2, VALID)]})
write("kafka_valid.json", kafka({"orders-0": [b64(V.encode()), b64(V.encode())], "orders-1": [b64(V.encode())]}))
write("kafka_invalid.json", kafka({"orders-0": [b64(V.encode()), b64(I.encode()), b64(V.encode())], "orders-1": [b64(V.encode())]}))
write("kafka_self_managed_valid.json", kafka({"orders-0": [b64(V.encode())]}, self_managed=True))
write("bedrock_agent_valid.json", bedrock(V))
write("bedrock_agent_invalid.json", bedrock(I))
write("s3_sqs_valid.json", {"Records": [sqs_record(0, js(s3_notification(S3_OK)))]})
write("s3_sqs_invalid.json", {"Records": [sqs_record(0, js(s3_notification(S3_OK))), sqs_record(1, js(s3_notification(S3_BAD)))]})
write("s3_sns_sqs_valid.json", {"Records": [sqs_record(0, js(sns_notification(js(s3_notification(S3_OK)))))]})
write("s3_sns_sqs_invalid.json", {"Records": [sqs_record(0, js(sns_notification(js(s3_notification(S3_BAD)))))]})
write("s3_eventbridge_sqs_valid.json", {"Records": [sqs_record(0, js(s3_eventbridge(S3_OK)))]})
write("s3_eventbridge_sqs_invalid.json", {"Records": [sqs_record(0, js(s3_eventbridge(S3_BAD)))]})
write("s3_firehose_valid.json", firehose([b64(js(s3_notification(S3_OK)).encode())]))
write("s3_firehose_invalid.json", firehose([b64(js(s3_notification(S3_OK)).encode()), b64(js(s3_notification(S3_BAD)).encode())]))
