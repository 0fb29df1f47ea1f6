#!/usr/bin/env bash
# Installs the AWS Lambda Runtime Interface Emulator (the emulator `sam local
# invoke` runs inside its containers) into .bin/aws-lambda-rie, built from the
# Go module proxy at a pinned version. Quick when that version is already
# there: `go version -m` names the module version a binary was built from.
# internal/lambdatest and bench/coldstart run the functions under it.
set -euo pipefail

RIE_MODULE="github.com/aws/aws-lambda-runtime-interface-emulator"
RIE_VERSION="v0.0.0-20261030222936-bef5c4ba774d"

cd "$(dirname "${BASH_SOURCE[0]}")/.."
BIN_DIR="$PWD/.bin"
RIE="$BIN_DIR/aws-lambda-rie"

# installed_version prints the module version RIE was built from, or nothing.
installed_version() {
	[[ -x "$RIE" ]] || return 0
	go version -m "$RIE" 2>/dev/null | awk -v m="$RIE_MODULE" '$1 == "mod" && $2 == m { print $3 }'
}

if [[ "$(installed_version)" == "$RIE_VERSION" ]]; then
	echo "aws-lambda-rie $RIE_VERSION: up to date ($RIE)"
	exit 0
fi

mkdir -p "$BIN_DIR"
# Built for the machine that runs the tests (not the Lambda GOOS/GOARCH).
GOBIN="$BIN_DIR" GOOS= GOARCH= CGO_ENABLED=0 GOFLAGS= \
	go install "$RIE_MODULE/cmd/aws-lambda-rie@$RIE_VERSION"

got="$(installed_version)"
if [[ "$got" != "$RIE_VERSION" ]]; then
	echo "install-rie.sh: $RIE reports version '${got:-none}', want $RIE_VERSION" >&2
	exit 1
fi
echo "aws-lambda-rie $RIE_VERSION: installed ($RIE)"
