# Tern: the two set-up commands are `make demo` and `make test` (see README.md).
# Each area keeps its targets in mk/*.mk so that they can change independently.
SHELL := /usr/bin/env bash
GO ?= go
CACHE_DIR ?= $(HOME)/.cache/tern
K8S_VERSION ?= v1.37.2
BIN_DIR ?= $(CACHE_DIR)/bin-$(K8S_VERSION)
STATE_DIR ?= $(CACHE_DIR)/cluster
export KUBEBUILDER_ASSETS ?= $(BIN_DIR)

.DEFAULT_GOAL := help
help: ## list the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | sort | awk -F':.*## ' '{printf "  %-18s %s\n", $$1, $$2}'

include $(wildcard mk/*.mk)
