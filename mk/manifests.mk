# Code and manifests generated from api/v1alpha1: deepcopy functions and the CRDs.
# controller-gen is built once from the pinned tools module (hack/tools) into $(CACHE_DIR);
# the version is part of the binary's name, so bumping the pin rebuilds it.
CONTROLLER_GEN_VERSION := $(shell awk '{for (i = 1; i < NF; i++) if ($$i == "sigs.k8s.io/controller-tools") {print $$(i+1); exit}}' hack/tools/go.mod)
CONTROLLER_GEN ?= $(CACHE_DIR)/controller-gen-$(CONTROLLER_GEN_VERSION)
CRD_DIR := config/crd/bases

# Only built when missing (no prerequisites): a fresh checkout's newer go.mod mtime must
# not force a rebuild of a binary whose version is already in its name.
$(CONTROLLER_GEN):
	@test -n "$(CONTROLLER_GEN_VERSION)" || { echo "no sigs.k8s.io/controller-tools in hack/tools/go.mod" >&2; exit 1; }
	@mkdir -p $(dir $@)
	@echo ">> building controller-gen $(CONTROLLER_GEN_VERSION) into $(dir $@) (once; lists packages as they compile)"
	@cd hack/tools && $(GO) build -v -o $@.tmp.$$$$ sigs.k8s.io/controller-tools/cmd/controller-gen 2>&1 | sed 's/^/   /'; \
		status=$${PIPESTATUS[0]}; \
		if [ $$status -ne 0 ]; then rm -f $@.tmp.$$$$; exit $$status; fi; \
		mv $@.tmp.$$$$ $@
	@echo ">> controller-gen ready: $@"

.PHONY: controller-gen
controller-gen: $(CONTROLLER_GEN) ## build the pinned controller-gen into the cache if missing

.PHONY: manifests
manifests: $(CONTROLLER_GEN) ## regenerate deepcopy code and the CRDs (config/crd/bases)
	@echo ">> deepcopy: api/v1alpha1/zz_generated.deepcopy.go"
	@$(CONTROLLER_GEN) object paths=./api/...
	@echo ">> CRDs: controller-gen, then hack/crdpatch, into $(CRD_DIR)"
	@$(GO) run ./hack/crdpatch -controller-gen $(CONTROLLER_GEN) -dir $(CRD_DIR)
	@ls -l $(CRD_DIR)/*.yaml | awk '{printf "   %8d  %s\n", $$5, $$9}'

.PHONY: verify-manifests
verify-manifests: ## fail if the CRDs or deepcopy code are stale or off-contract
	$(GO) test -count=1 ./hack/crdpatch/
