#!/usr/bin/env python3
"""Deploys deploy/aws/s3logsbeat.cfn.yml on moto's CloudFormation, as a user would on AWS, for the tests.

Usage: deploy_stack.py ENDPOINT TEMPLATE BUCKET [--notify]

Creates the stack `s3logsbeat` (CreateBucket=true) and waits for it. moto 5.2 creates the queues, the
role and the bucket from the template, but applies neither the AWS::SQS::QueuePolicy to its queue nor the
bucket's NotificationConfiguration (on AWS the stack does both). So this script then sets the queue's
policy through the SQS API, as the template's QueuePolicy writes it, and, with --notify, the bucket's
notification through the S3 API, as the stack's NotificationCommand output does for a bucket that
exists. Prints the stack's outputs as one JSON object. Credentials and region come from the environment
(the tests set them).
"""
import json
import sys

import boto3


def main():
    endpoint, template, bucket = sys.argv[1:4]
    notify = "--notify" in sys.argv[4:]
    cfn = boto3.client("cloudformation", endpoint_url=endpoint)
    with open(template, encoding="utf-8") as f:
        body = f.read()
    existing = [s["StackName"] for s in cfn.list_stacks()["StackSummaries"]
                if s["StackStatus"] != "DELETE_COMPLETE"]
    if "s3logsbeat" not in existing:
        cfn.create_stack(
            StackName="s3logsbeat",
            TemplateBody=body,
            Parameters=[{"ParameterKey": "BucketName", "ParameterValue": bucket},
                        {"ParameterKey": "CreateBucket", "ParameterValue": "true"}],
            Capabilities=["CAPABILITY_IAM"],
        )
        cfn.get_waiter("stack_create_complete").wait(StackName="s3logsbeat",
                                                     WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    stack = cfn.describe_stacks(StackName="s3logsbeat")["Stacks"][0]
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
    outputs["StackStatus"] = stack["StackStatus"]
    sqs = boto3.client("sqs", endpoint_url=endpoint)
    attrs = sqs.get_queue_attributes(QueueUrl=outputs["QueueUrl"], AttributeNames=["All"])["Attributes"]
    if "Policy" not in attrs:
        # The template's QueuePolicy, resolved for this stack (tests/e2e/commands.rs checks the template
        # still says the same).
        account = outputs["QueueArn"].split(":")[4]
        policy = {"Version": "2012-10-17", "Statement": [{
            "Sid": "BucketNotifications", "Effect": "Allow",
            "Principal": {"Service": "s3.amazonaws.com"}, "Action": "sqs:SendMessage",
            "Resource": outputs["QueueArn"],
            "Condition": {"ArnLike": {"aws:SourceArn": f"arn:aws:s3:::{bucket}"},
                          "StringEquals": {"aws:SourceAccount": account}}}]}
        sqs.set_queue_attributes(QueueUrl=outputs["QueueUrl"], Attributes={"Policy": json.dumps(policy)})
    if notify:
        s3 = boto3.client("s3", endpoint_url=endpoint)
        s3.put_bucket_notification_configuration(
            Bucket=bucket,
            NotificationConfiguration={"QueueConfigurations": [
                {"QueueArn": outputs["QueueArn"], "Events": ["s3:ObjectCreated:*"]}]},
        )
    print(json.dumps(outputs))


if __name__ == "__main__":
    main()
