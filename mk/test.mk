# Tests: `make test` is one of the two set-up commands of the README.
.PHONY: test test-unit

test: ## run every test: unit, then e2e on a local control plane started for the run
	@GO=$(GO) BIN_DIR=$(BIN_DIR) K8S_VERSION=$(K8S_VERSION) hack/test.sh

test-unit: ## run the tests that need no control plane (e2e tests skip themselves)
	$(GO) test -count=1 ./...
