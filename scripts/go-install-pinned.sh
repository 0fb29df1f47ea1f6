#!/usr/bin/env bash
# go-install-pinned.sh MODULE PACKAGE VERSION: installs the command PACKAGE
# (inside MODULE) at VERSION into .bin/, built from the Go module proxy for
# this machine. Quick when that version is already there: `go version -m`
# names the module version a binary was built from.
# Used by install-rie.sh (the Lambda emulator) and test.sh (staticcheck).
set -euo pipefail

[[ $# -eq 3 ]] || { echo "usage: $0 MODULE PACKAGE VERSION" >&2; exit 2; }
module="$1" pkg="$2" version="$3"

cd "$(dirname "${BASH_SOURCE[0]}")/.."
BIN_DIR="$PWD/.bin"
bin="$BIN_DIR/${pkg##*/}"

# installed_version prints the module version bin was built from, or nothing.
installed_version() {
	[[ -x "$bin" ]] || return 0
	go version -m "$bin" 2>/dev/null | awk -v m="$module" '$1 == "mod" && $2 == m { print $3 }'
}

if [[ "$(installed_version)" == "$version" ]]; then
	echo "${pkg##*/} $version: up to date ($bin)"
	exit 0
fi

mkdir -p "$BIN_DIR"
# Built for the machine that runs the tests (not the Lambda GOOS/GOARCH).
GOBIN="$BIN_DIR" GOOS= GOARCH= CGO_ENABLED=0 GOFLAGS= go install "$pkg@$version"

got="$(installed_version)"
if [[ "$got" != "$version" ]]; then
	echo "go-install-pinned.sh: $bin reports version '${got:-none}', want $version" >&2
	exit 1
fi
echo "${pkg##*/} $version: installed ($bin)"
