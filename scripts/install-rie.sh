#!/usr/bin/env bash
# Installs the AWS Lambda Runtime Interface Emulator (the emulator `sam local
# invoke` runs inside its containers) into .bin/aws-lambda-rie, built from the
# Go module proxy at a pinned version. internal/lambdatest and bench/coldstart
# run the functions under it.
set -euo pipefail
RIE_MODULE="github.com/aws/aws-lambda-runtime-interface-emulator"
RIE_VERSION="v0.0.0-20261030222936-bef5c4ba774d"
exec "$(dirname "${BASH_SOURCE[0]}")/go-install-pinned.sh" "$RIE_MODULE" "$RIE_MODULE/cmd/aws-lambda-rie" "$RIE_VERSION"
