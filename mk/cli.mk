# The kubectl plugin: bin/kubectl-tern, and the same binary as bin/kubectl-argo-rollouts so
# that `kubectl argo rollouts ...` works too (kubectl picks a plugin by its file name).
# Build information is stamped into internal/cli/version; a tree without a tag, or with
# local changes, reports v99.99.99+<commit>[.dirty] so it never passes for a release.
CLI_VERSION_PKG := github.com/tern-rollouts/tern/internal/cli/version
# Recursive (=) on purpose: git runs only when the plugin is built, not on every make.
CLI_GIT_COMMIT = $(shell git rev-parse HEAD 2>/dev/null)
CLI_GIT_TAG = $(shell git describe --exact-match --tags HEAD 2>/dev/null)
CLI_GIT_TREE_STATE = $(shell if [ -z "$$(git status --porcelain 2>/dev/null)" ]; then echo clean; else echo dirty; fi)
# The last release tag, without its "v", is the base of an unreleased version.
CLI_BASE_VERSION = $(patsubst v%,%,$(shell git describe --tags --abbrev=0 2>/dev/null))
CLI_LDFLAGS = -X $(CLI_VERSION_PKG).buildDate=$(shell date -u +%Y-%m-%dT%H:%M:%SZ) \
	-X $(CLI_VERSION_PKG).gitCommit=$(CLI_GIT_COMMIT) \
	-X $(CLI_VERSION_PKG).gitTag=$(CLI_GIT_TAG) \
	-X $(CLI_VERSION_PKG).gitTreeState=$(CLI_GIT_TREE_STATE) \
	$(if $(CLI_BASE_VERSION),-X $(CLI_VERSION_PKG).version=$(CLI_BASE_VERSION))

.PHONY: build-cli test-cli

build-cli: ## build the kubectl plugin: bin/kubectl-tern and its copy bin/kubectl-argo-rollouts
	@mkdir -p bin
	$(GO) build -ldflags "$(CLI_LDFLAGS)" -o bin/kubectl-tern ./cmd/kubectl-tern
	cp bin/kubectl-tern bin/kubectl-argo-rollouts

test-cli: ## run the plugin's tests (commands, actions, get rollout goldens)
	$(GO) test -count=1 ./internal/cli/... ./internal/actions/... ./internal/rolloutinfo/...
