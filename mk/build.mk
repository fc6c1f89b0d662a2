# Binaries of this tree, built into bin/.
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo v99.99.99+unknown)
.PHONY: build build-controller

build: build-controller build-cli ## build bin/tern-controller and the kubectl plugin

build-controller: ## build bin/tern-controller
	$(GO) build -ldflags "-X main.version=$(VERSION)" -o bin/tern-controller ./cmd/tern-controller
