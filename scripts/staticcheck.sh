#!/usr/bin/env bash
# Runs staticcheck (pinned; installed into .bin/ on first use) on the module.
# `make lint` and the test command (scripts/test.sh) both call this.
set -euo pipefail
STATICCHECK_VERSION="v0.8.2"
cd "$(dirname "${BASH_SOURCE[0]}")/.."
./scripts/go-install-pinned.sh honnef.co/go/tools honnef.co/go/tools/cmd/staticcheck "$STATICCHECK_VERSION"
./.bin/staticcheck ./...
