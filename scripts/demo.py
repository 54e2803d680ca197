#!/usr/bin/env python3
"""`make demo`: the main job end to end on local stand-ins.

Starts moto's server (S3 and SQS), creates a bucket whose ObjectCreated notifications go to an SQS queue,
uploads the bundled AWS sample logs (gzip-compressed, as AWS writes them), runs `s3logsbeat --once` against
them and shows what arrived: in a file output by default, or in Elasticsearch when ES_URL is set.
"""
import gzip
import json
import os
import pathlib
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

import boto3

ROOT = pathlib.Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "tests" / "data" / "samples"
BIN = ROOT / "target" / "release" / "s3logsbeat"
# (bucket prefix, log_format, sample file)
UPLOADS = [
    ("alb", "alb", "alb-aws-docs.log"),
    ("elb", "elb", "elb-logstash-patterns.log"),
    ("cloudfront", "cloudfront", "cloudfront-aws-docs.log"),
    ("cloudfront", "cloudfront", "cloudfront-logstash-patterns.log"),
    ("waf", "waf", "waf-aws-docs.ndjson"),
]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main():
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    moto = subprocess.Popen([str(ROOT / ".venv" / "bin" / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(300):
            try:
                urllib.request.urlopen(endpoint + "/moto-api/", timeout=1)
                break
            except OSError:
                time.sleep(0.1)
        else:
            sys.exit("moto_server did not start")
        print(f"== moto (S3 + SQS) on {endpoint}")
        kw = dict(endpoint_url=endpoint, region_name="us-east-1",
                  aws_access_key_id="demo", aws_secret_access_key="demo")
        s3, sqs = boto3.client("s3", **kw), boto3.client("sqs", **kw)
        inputs = []
        for fmt in sorted({f for _, f, _ in UPLOADS}):
            bucket, queue = f"demo-{fmt}-logs", f"demo-{fmt}-notifications"
            s3.create_bucket(Bucket=bucket)
            url = sqs.create_queue(QueueName=queue)["QueueUrl"]
            arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
            s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={
                "QueueConfigurations": [{"QueueArn": arn, "Events": ["s3:ObjectCreated:*"]}]})
            inputs.append({"type": "sqs", "queues_url": [url], "log_format": fmt, "wait_time": "1s",
                           "key_regex_fields": r"AWSLogs/(?P<aws_account_id>\d+)/",
                           "fields": {"format": fmt}})
            print(f"== bucket {bucket} → notifications → queue {url}")
        for prefix, fmt, name in UPLOADS:
            key = f"AWSLogs/123456789012/{prefix}/2026/11/22/{name}.gz"
            s3.put_object(Bucket=f"demo-{fmt}-logs", Key=key, Body=gzip.compress((SAMPLES / name).read_bytes()))
            print(f"   uploaded s3://demo-{fmt}-logs/{key}")

        work = pathlib.Path(tempfile.mkdtemp(prefix="s3logsbeat-demo-"))
        config = {"s3logsbeat": {"aws": {"endpoint": endpoint, "region": "us-east-1"}, "inputs": inputs}}
        es = os.environ.get("ES_URL")
        if es:
            config["output.elasticsearch"] = {"hosts": [es], "index": "s3logsbeat-demo-%{[fields][format]}"}
        else:
            config["output.file"] = {"path": str(work / "out"), "filename": "events.ndjson"}
        cfg = work / "s3logsbeat.yml"
        cfg.write_text(json.dumps(config, indent=2))  # JSON is YAML
        env = dict(os.environ, AWS_ACCESS_KEY_ID="demo", AWS_SECRET_ACCESS_KEY="demo",
                   AWS_EC2_METADATA_DISABLED="true")
        print(f"== {BIN.relative_to(ROOT)} -c {cfg} --once")
        run = subprocess.run([str(BIN), "-c", str(cfg), "--once"], env=env, stderr=subprocess.PIPE, text=True)
        last = [l for l in run.stderr.splitlines() if "--once" in l or "ERROR" in l or "WARN" in l]
        print("\n".join("   " + l for l in last))
        if run.returncode != 0:
            print(run.stderr)
            sys.exit(f"s3logsbeat exited with {run.returncode}")
        for fmt in sorted({f for _, f, _ in UPLOADS}):
            url = sqs.get_queue_url(QueueName=f"demo-{fmt}-notifications")["QueueUrl"]
            attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
            print(f"== queue demo-{fmt}-notifications: {attrs['ApproximateNumberOfMessages']} visible, "
                  f"{attrs['ApproximateNumberOfMessagesNotVisible']} in flight (every message deleted after delivery)")
        if es:
            print(f"== events are in {es}, indices s3logsbeat-demo-*")
            return
        events = [json.loads(l) for l in (work / "out" / "events.ndjson").read_text().splitlines()]
        by_format = {}
        for e in events:
            by_format[e["@metadata"]["format"]] = by_format.get(e["@metadata"]["format"], 0) + 1
        print(f"== {len(events)} events in {work / 'out' / 'events.ndjson'}: {by_format}")
        for fmt in sorted(by_format):
            e = next(e for e in events if e["@metadata"]["format"] == fmt)
            print(f"-- first {fmt} event:")
            print(json.dumps(e, indent=2)[:1500])
    finally:
        moto.terminate()
        moto.wait()


if __name__ == "__main__":
    main()
