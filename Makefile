# Lambda binaries: static, stripped, no RPC shim, one `bootstrap` per function,
# for the architecture template.yaml deploys (Globals.Function.Architectures:
# arm64 -> GOARCH=arm64, x86_64 -> GOARCH=amd64).
#   make build                  -> build/<fn>/bootstrap for the template's architecture
#   make build GOARCH=amd64     -> another architecture, from the command line
#                                  only (a GOARCH in the environment is ignored)
#   sam build                   -> runs build-<LogicalId> with ARTIFACTS_DIR set
#                                  (template.yaml: BuildMethod makefile, CodeUri .;
#                                  samconfig.toml: build_in_source, no copy)
#   make run-token              -> functions/token under the Lambda emulator on
#                                  127.0.0.1:$(TOKEN_PORT), for the app-side
#                                  examples (run the dev server's export lines first)

GO        ?= go
TEMPLATE  = template.yaml
BUILD_DIR ?= build
FUNCTIONS := authorize callback refresh events token bff

# The one Architectures line of Globals.Function (4-space indent).
TEMPLATE_ARCH := $(shell sed -n 's/^    Architectures: *\[ *\([a-z0-9_]*\) *\] *$$/\1/p' $(TEMPLATE) 2>/dev/null)
GOARCH_arm64  := arm64
GOARCH_x86_64 := amd64
GOARCH = $(or $(GOARCH_$(TEMPLATE_ARCH)),$(error $(TEMPLATE): Globals.Function.Architectures is "$(TEMPLATE_ARCH)"; want [arm64] or [x86_64]))

GO_BUILD = GOOS=linux GOARCH=$(GOARCH) CGO_ENABLED=0 $(GO) build -tags lambda.norpc -trimpath -ldflags='-s -w'

.PHONY: test build lint clean run-token FORCE \
	build-AuthorizeFunction build-CallbackFunction build-RefreshFunction \
	build-EventsFunction build-TokenFunction build-BffFunction

test:
	./scripts/test.sh

build: $(FUNCTIONS:%=$(BUILD_DIR)/%/bootstrap)

# Go decides what is stale, so the binary is always handed to `go build`.
$(BUILD_DIR)/%/bootstrap: FORCE
	$(GO_BUILD) -o $@ ./functions/$*

FORCE:

# sam build (BuildMethod: makefile) runs these with ARTIFACTS_DIR set.
sam-artifacts = $(if $(ARTIFACTS_DIR),$(ARTIFACTS_DIR)/bootstrap,$(error ARTIFACTS_DIR is not set: sam build sets it; use make build otherwise))

build-AuthorizeFunction:
	$(GO_BUILD) -o $(sam-artifacts) ./functions/authorize

build-CallbackFunction:
	$(GO_BUILD) -o $(sam-artifacts) ./functions/callback

build-RefreshFunction:
	$(GO_BUILD) -o $(sam-artifacts) ./functions/refresh

build-EventsFunction:
	$(GO_BUILD) -o $(sam-artifacts) ./functions/events

build-TokenFunction:
	$(GO_BUILD) -o $(sam-artifacts) ./functions/token

build-BffFunction:
	$(GO_BUILD) -o $(sam-artifacts) ./functions/bff

# run-token: functions/token, built for this machine, under the Lambda
# Runtime Interface Emulator (the one `sam local` and internal/lambdatest
# use; scripts/install-rie.sh installs it), with this shell's environment:
# the dev server's export lines (oauthfn dev -store dynamodb) give it the
# table, keys and AWS stand-in. Invoke it as Lambda with endpoint
# http://127.0.0.1:$(TOKEN_PORT) and function name "function".
TOKEN_PORT     ?= 9001
TOKEN_API_PORT ?= 9002
HOST_GOARCH    := $(shell $(GO) env GOARCH)

run-token:
	./scripts/install-rie.sh
	GOOS=linux GOARCH=$(HOST_GOARCH) CGO_ENABLED=0 $(GO) build -tags lambda.norpc -trimpath -o $(BUILD_DIR)/local/token/bootstrap ./functions/token
	@echo "make run-token: functions/token on http://127.0.0.1:$(TOKEN_PORT) (function name: function); Ctrl-C stops"
	.bin/aws-lambda-rie --runtime-interface-emulator-address 127.0.0.1:$(TOKEN_PORT) --runtime-api-address 127.0.0.1:$(TOKEN_API_PORT) $(BUILD_DIR)/local/token/bootstrap

lint:
	cfn-lint --include-checks I --include-experimental -- template.yaml
	$(GO) vet ./...
	./scripts/staticcheck.sh
	@test -z "$$(gofmt -l .)" || { echo "gofmt needed:"; gofmt -l .; exit 1; }

clean:
	rm -rf $(BUILD_DIR) .aws-sam
