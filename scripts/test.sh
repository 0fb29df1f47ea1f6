#!/usr/bin/env bash
# The project's one test command (`make test`; .ci/run calls it too).
# From a clean clone it checks the tools, installs the test stand-ins' npm
# packages and chromium, vets, runs every Go test with the race detector
# against the real stand-ins (moto_server, oidc-provider) and a real browser,
# then fuzzes each target for a bounded number of inputs. Any missing tool or
# failing step fails the whole run.
set -euo pipefail

# Fuzz targets, "FuzzName:./package:executions". The budget is a count of
# inputs (-fuzztime Nx), never a duration: a duration budget races Go's
# fuzzing coordinator at its deadline (golang/go#75804, fixed in Go 1.27) and
# fails a run that found nothing ("context deadline exceeded", no input
# written). Each count is about 20 s on a loaded 2-core machine with a warm
# build cache (58 s was measured on a cold one).
# FUZZ_SCALE multiplies every count (FUZZ_SCALE=10 for a longer local run).
FUZZ_TARGETS=("FuzzCallbackRequest:./pkg/oauth:40000" "FuzzParseQuery:./pkg/oauth:80000" "FuzzAPITarget:./pkg/oauth:40000")
FUZZ_SCALE="${FUZZ_SCALE:-1}"
GO_TEST_TIMEOUT="${GO_TEST_TIMEOUT:-20m}"

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT="$PWD"
OIDC_DIR="$ROOT/testdata/oidc"
# npm projects the tests run: the oidc-provider stand-in and the Node examples
# (jose for connect tokens, @aws-sdk/client-lambda for the token function),
# each pinned by its package-lock.json.
NPM_DIRS=("$OIDC_DIR" "$ROOT/examples/node")

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
	for tool in go gofmt node npm python3 cfn-lint; do
		command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
	done
	if ((${#missing[@]})); then
		die "missing tools: ${missing[*]} (the tests need every one of them; see docs/testing.md)"
	fi
	# pyenv shims exist even when the package behind them is gone: run them.
	# The tests run moto through internal/testenv/moto_serial.py with the
	# first python3 on PATH (not the moto_server script): check that one.
	python3 -c 'from moto.server import DomainDispatcherApplication, create_backend_app; import werkzeug.serving' >/dev/null 2>&1 ||
		die "the first python3 on PATH ($(command -v python3)) cannot import moto's server (the tests run internal/testenv/moto_serial.py with it: pip install 'moto[server]' for that python3)"
	cfn-lint --version >/dev/null 2>&1 || die "cfn-lint is installed but does not run (pip install cfn-lint)"
	python3 -c 'import boto3' >/dev/null 2>&1 || die "python3 has no boto3 (the Python example's test needs it: pip install boto3, or apt-get install python3-boto3)"
}

# install_deps: npm ci in each of NPM_DIRS, only when its node_modules is
# missing or was installed from another package-lock.json.
install_deps() {
	local dir lock_sum stamp
	for dir in "${NPM_DIRS[@]}"; do
		stamp="$dir/node_modules/.oauthfn-lock.sha256"
		lock_sum="$(sha256sum "$dir/package-lock.json" | cut -d' ' -f1)"
		if [[ -f "$stamp" && "$(cat "$stamp")" == "$lock_sum" ]]; then
			echo "${dir#"$ROOT"/}: node_modules up to date"
			continue
		fi
		(cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
		echo "$lock_sum" >"$stamp"
	done
}

# apt_install PACKAGE...: apt-get install (through sudo when not root, with
# apt_get's lock waits); fails the run if it cannot.
apt_install() {
	local sudo=()
	if [[ "$(id -u)" != 0 ]]; then
		command -v sudo >/dev/null 2>&1 || die "$* missing and sudo is not available to install it (apt-get install $* as root)"
		sudo=(sudo)
	fi
	command -v apt-get >/dev/null 2>&1 || die "$* missing and apt-get is not available to install it"
	apt_get "${sudo[@]}" update || die "apt-get update failed (needed to install $*)"
	apt_get "${sudo[@]}" install -y "$@" || die "apt-get install $* failed"
}

# install_pyjwt: the Python example app (examples/python) runs on Debian's
# python3 with PyJWT from Debian (python3-jwt).
install_pyjwt() {
	if ! /usr/bin/python3 -c 'import jwt' >/dev/null 2>&1; then
		apt_install python3-jwt
		/usr/bin/python3 -c 'import jwt' >/dev/null 2>&1 || die "python3-jwt was installed but /usr/bin/python3 cannot import jwt"
	fi
	echo "PyJWT: $(/usr/bin/python3 -c 'import jwt; print(jwt.__version__)')"
}

# apt_get [sudo] ARGS...: apt-get that waits up to 10 minutes for another
# apt/dpkg run to let go of its locks instead of failing at once.
# DPkg::Lock::Timeout covers the dpkg frontend lock (install); `update` takes
# the package lists' lock, which that option does not wait for, so an update
# that finds it held is tried again.
apt_get() {
	local sudo=()
	[[ "${1:-}" == sudo ]] && { sudo=(sudo); shift; }
	local cmd=("${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 "$@")
	[[ "${1:-}" == update ]] || { "${cmd[@]}"; return; }
	local try
	for try in $(seq 1 60); do
		"${cmd[@]}" && return 0
		# Without fuser (psmisc) to tell a held lock, try a few times only.
		if command -v fuser >/dev/null 2>&1; then
			fuser /var/lib/apt/lists/lock >/dev/null 2>&1 || return 1
		elif ((try >= 6)); then
			return 1
		fi
		echo "apt-get update: the package lists are locked by another apt run; waiting ($try/60)"
		sleep 10
	done
	return 1
}

# install_chromium: the browser internal/browsertest drives (Debian's
# chromium). Nothing to do when `chromium --version` works; otherwise
# apt-get installs it (through sudo when not root). Fails if it cannot.
install_chromium() {
	if chromium --version >/dev/null 2>&1; then
		echo "chromium: $(chromium --version 2>/dev/null | tail -n1)"
		return
	fi
	apt_install chromium
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

run_staticcheck() {
	"$ROOT/scripts/staticcheck.sh"
}

run_go_tests() {
	go test -race -count=1 -timeout "$GO_TEST_TIMEOUT" ./...
}

# run_fuzz: each target in FUZZ_TARGETS for its count of inputs; the seed
# corpus in testdata/fuzz already ran as plain tests in run_go_tests. A real
# finding fails the run (go test writes the input to testdata/fuzz).
run_fuzz() {
	if ((${#FUZZ_TARGETS[@]} == 0)); then
		echo "no fuzz targets"
		return
	fi
	local target name pkg count start rest
	for target in "${FUZZ_TARGETS[@]}"; do
		name="${target%%:*}"
		rest="${target#*:}"
		pkg="${rest%%:*}"
		count="${rest#*:}"
		[[ -n "$name" && "$pkg" == ./* && "$count" =~ ^[0-9]+$ ]] || die "bad fuzz target '$target', want FuzzName:./package:executions"
		count=$((count * FUZZ_SCALE))
		start=$SECONDS
		go test -run '^$' -fuzz "^${name}\$" -fuzztime "${count}x" "$pkg"
		echo "    $name ($pkg): ${count} inputs, ok ($((SECONDS - start))s)"
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
	step "staticcheck" run_staticcheck
	step "install the Lambda emulator" install_rie
	step "install chromium" install_chromium
	step "install PyJWT" install_pyjwt
	step "go test -race" run_go_tests
	step "fuzz" run_fuzz
	step "benchmarks, once each" run_bench_smoke
	echo "==> all tests passed ($((SECONDS - start))s)"
}

main "$@"
