"""Runs the AWS SAM translator (the library behind `sam deploy` and
cfn-lint's SAM support) on a template with parameter values, as
CloudFormation does at deploy time, and prints the CloudFormation template.

usage: sam_translate.py TEMPLATE PARAMETERS_JSON
"""
import json
import sys

from cfnlint.decode import decode
from samtranslator.translator.transform import transform


class Policies:
    """The managed policies SAM may attach (no AWS call)."""

    def load(self):
        return {
            "AWSLambdaBasicExecutionRole": "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
            "AWSXrayWriteOnlyAccess": "arn:aws:iam::aws:policy/AWSXrayWriteOnlyAccess",
        }


def main():
    template, matches = decode(sys.argv[1])
    if matches:
        sys.exit("decode: %s" % matches)
    # `sam package` replaces the local CodeUri with the uploaded artifact.
    for resource in template["Resources"].values():
        if resource.get("Type") == "AWS::Serverless::Function":
            resource["Properties"]["CodeUri"] = "s3://bucket/key"
    out = transform(template, json.loads(sys.argv[2]), Policies())
    json.dump(out, sys.stdout, default=str)


main()
