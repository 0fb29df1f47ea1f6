# Lambda binaries: static, stripped, no RPC shim, one `bootstrap` per function.
#   make build                  -> build/<fn>/bootstrap for linux/arm64
#   make build GOARCH=amd64     -> the same for x86_64 (GOARCH from the command
#                                  line only; a GOARCH in the environment is ignored)
#   sam build                   -> runs build-<LogicalId> with ARTIFACTS_DIR set
#                                  (template.yaml: BuildMethod makefile, CodeUri .)

GO        ?= go
GOARCH    = arm64
BUILD_DIR ?= build
FUNCTIONS := authorize callback refresh events token

GO_BUILD = GOOS=linux GOARCH=$(GOARCH) CGO_ENABLED=0 $(GO) build -tags lambda.norpc -trimpath -ldflags='-s -w'

.PHONY: test build lint clean FORCE \
	build-AuthorizeFunction build-CallbackFunction build-RefreshFunction \
	build-EventsFunction build-TokenFunction

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

lint:
	cfn-lint template.yaml
	$(GO) vet ./...
	./scripts/staticcheck.sh
	@test -z "$$(gofmt -l .)" || { echo "gofmt needed:"; gofmt -l .; exit 1; }

clean:
	rm -rf $(BUILD_DIR) .aws-sam
