#!/usr/bin/env bash
# The project's one test command (`make test`; .ci/run calls it too).
# From a clean clone it checks the tools, installs the test stand-ins' npm
# packages and chromium, vets, runs every Go test with the race detector
# against the real stand-ins (moto_server, oidc-provider) and a real browser,
# then fuzzes each target for a bounded time. Any missing tool or failing
# step fails the whole run.
set -euo pipefail

# Fuzz targets, "FuzzName:./package", each run for FUZZ_TIME.
FUZZ_TARGETS=("FuzzCallbackRequest:./pkg/oauth" "FuzzParseQuery:./pkg/oauth")
FUZZ_TIME="${FUZZ_TIME:-20s}"
GO_TEST_TIMEOUT="${GO_TEST_TIMEOUT:-20m}"

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT="$PWD"
OIDC_DIR="$ROOT/testdata/oidc"

die() {
	echo "test.sh: $*" >&2
	exit 1
}

# step NAME FUNCTION [ARGS...]: runs one step and prints how long it took.
step() {
	local name="$1"
	shift
	local start=$SECONDS
	echo "==> $name"
	"$@"
	echo "==> $name: ok ($((SECONDS - start))s)"
}

check_tools() {
	local missing=()
	local tool
	for tool in go gofmt node npm moto_server cfn-lint; do
		command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
	done
	if ((${#missing[@]})); then
		die "missing tools: ${missing[*]} (the tests need every one of them; see the README)"
	fi
	# pyenv shims exist even when the package behind them is gone: run them.
	moto_server --help >/dev/null 2>&1 || die "moto_server is installed but does not run (pip install 'moto[server]')"
	cfn-lint --version >/dev/null 2>&1 || die "cfn-lint is installed but does not run (pip install cfn-lint)"
	python3 -c 'import boto3' >/dev/null 2>&1 || die "python3 has no boto3 (the Python example's test needs it: pip install boto3, or apt-get install python3-boto3)"
}

# npm_ci DIR: npm ci in DIR, only when its node_modules is missing or was
# installed from another package-lock.json.
npm_ci() {
	local dir="$1" lock_sum stamp="$1/node_modules/.oauthfn-lock.sha256"
	lock_sum="$(sha256sum "$dir/package-lock.json" | cut -d' ' -f1)"
	if [[ -f "$stamp" && "$(cat "$stamp")" == "$lock_sum" ]]; then
		echo "${dir#"$ROOT/"}: node_modules up to date"
		return
	fi
	(cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
	echo "$lock_sum" >"$stamp"
}

# install_deps: the oidc-provider stand-in, and the Node example's
# @aws-sdk/client-lambda (internal/lambdatest runs it against the token
# function). boto3 for the Python example comes with the pyenv python3
# (check_tools checks it).
install_deps() {
	npm_ci "$OIDC_DIR"
	npm_ci "$ROOT/examples/node"
}

# install_chromium: the browser internal/browsertest drives (Debian's
# chromium). Nothing to do when `chromium --version` works; otherwise
# apt-get installs it (through sudo when not root). Fails if it cannot.
install_chromium() {
	if chromium --version >/dev/null 2>&1; then
		echo "chromium: $(chromium --version 2>/dev/null | tail -n1)"
		return
	fi
	local sudo=()
	if [[ "$(id -u)" != 0 ]]; then
		command -v sudo >/dev/null 2>&1 || die "chromium is missing and sudo is not available to install it (apt-get install chromium as root)"
		sudo=(sudo)
	fi
	command -v apt-get >/dev/null 2>&1 || die "chromium is missing and apt-get is not available: install chromium (or Chrome as chromium on the PATH)"
	"${sudo[@]}" apt-get update || die "apt-get update failed (needed to install chromium)"
	"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y chromium || die "apt-get install chromium failed"
	chromium --version >/dev/null 2>&1 || die "chromium was installed but \`chromium --version\` does not run"
	echo "chromium: $(chromium --version 2>/dev/null | tail -n1)"
}

# install_rie: the Lambda Runtime Interface Emulator that internal/lambdatest
# runs the built functions under (.bin/aws-lambda-rie, pinned version).
install_rie() {
	"$ROOT/scripts/install-rie.sh"
}

check_format() {
	local unformatted
	unformatted="$(gofmt -l .)"
	if [[ -n "$unformatted" ]]; then
		die "not gofmt-ed: $unformatted"
	fi
}

run_vet() {
	go vet ./...
}

run_go_tests() {
	go test -race -count=1 -timeout "$GO_TEST_TIMEOUT" ./...
}

# run_fuzz: each target in FUZZ_TARGETS for FUZZ_TIME; the seed corpus in
# testdata/fuzz already ran as plain tests in run_go_tests.
run_fuzz() {
	if ((${#FUZZ_TARGETS[@]} == 0)); then
		echo "no fuzz targets"
		return
	fi
	local target name pkg start
	for target in "${FUZZ_TARGETS[@]}"; do
		name="${target%%:*}"
		pkg="${target#*:}"
		[[ -n "$name" && -n "$pkg" && "$name" != "$target" ]] || die "bad fuzz target '$target', want FuzzName:./package"
		start=$SECONDS
		go test -run '^$' -fuzz "^${name}\$" -fuzztime "$FUZZ_TIME" "$pkg"
		echo "    $name ($pkg): ok ($((SECONDS - start))s)"
	done
}

# The benchmarks run once each (-benchtime 1x) so they keep compiling and
# working; their figures are printed, not asserted (shared machines are
# noisy). `go run ./bench/coldstart` is the cold-start benchmark.
run_bench_smoke() {
	go test -run '^$' -bench . -benchtime 1x ./pkg/...
}

main() {
	local start=$SECONDS
	step "check tools" check_tools
	step "install test dependencies" install_deps
	step "gofmt" check_format
	step "go vet" run_vet
	step "install the Lambda emulator" install_rie
	step "install chromium" install_chromium
	step "go test -race" run_go_tests
	step "fuzz" run_fuzz
	step "benchmarks, once each" run_bench_smoke
	echo "==> all tests passed ($((SECONDS - start))s)"
}

main "$@"
