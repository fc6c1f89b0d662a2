# Installing Tern on a cluster: the rendered manifests, the controller image (built without
# Docker), the Helm chart's helm, and the kubectl plugin for every platform. All into dist/;
# manifests/install.yaml and manifests/namespace-install.yaml are checked in as well.
KUBECTL ?= $(BIN_DIR)/kubectl
DIST_DIR ?= dist

# helm is built once from the pinned tools module (hack/helm) into $(CACHE_DIR), like
# controller-gen: the version is in the name, so bumping the pin rebuilds it.
HELM_VERSION := $(shell awk '{for (i = 1; i < NF; i++) if ($$i == "helm.sh/helm/v3") {print $$(i+1); exit}}' hack/helm/go.mod)
HELM ?= $(CACHE_DIR)/helm-$(HELM_VERSION)

.PHONY: install-manifest image helm plugin test-install

install-manifest: ## render manifests/ into dist/install.yaml + namespace-install.yaml and the checked-in copies (IMAGE_TAG=v1.2.3 for a release)
	@test -x $(KUBECTL) || { echo "no kubectl at $(KUBECTL): run make cluster-build (or set KUBECTL)" >&2; exit 1; }
	@$(GO) run ./hack/installmanifest -kubectl $(KUBECTL) -dist $(DIST_DIR) $(if $(IMAGE_TAG),-image-tag $(IMAGE_TAG))

# The image: a static tern-controller on an empty base plus CA certificates, written as an
# OCI image layout tarball. Same source, same digest: the timestamps are the commit's.
IMAGE_REPO ?= ghcr.io/tern-rollouts/tern
IMAGE_VERSION ?= $(VERSION)
IMAGE_PLATFORMS ?= linux/$(shell $(GO) env GOARCH)
IMAGE_SOURCE ?= https://github.com/tern-rollouts/tern
SOURCE_DATE_EPOCH ?= $(shell git log -1 --format=%ct 2>/dev/null || echo 0)

image: ## build dist/tern-controller-image.tar (OCI layout, no Docker) and print its digest (IMAGE_PLATFORMS="linux/amd64 linux/arm64")
	@mkdir -p $(DIST_DIR)
	@GO=$(GO) $(GO) run ./hack/image -out $(DIST_DIR)/tern-controller-image.tar \
		-repo $(IMAGE_REPO) -version $(IMAGE_VERSION) -revision $(CLI_GIT_COMMIT) \
		-source $(IMAGE_SOURCE) -created $(SOURCE_DATE_EPOCH) \
		$(foreach p,$(IMAGE_PLATFORMS),-platform $(p))

# Only built when missing (no prerequisites), as controller-gen.
$(HELM):
	@test -n "$(HELM_VERSION)" || { echo "no helm.sh/helm/v3 in hack/helm/go.mod" >&2; exit 1; }
	@mkdir -p $(dir $@)
	@echo ">> building helm $(HELM_VERSION) into $(dir $@) (once, a few minutes)"
	@cd hack/helm && CGO_ENABLED=0 $(GO) build -trimpath \
		-ldflags "-X helm.sh/helm/v3/internal/version.version=$(HELM_VERSION)" -o $@.tmp.$$$$ helm.sh/helm/v3/cmd/helm || { rm -f $@.tmp.$$$$; exit 1; }; \
		mv $@.tmp.$$$$ $@
	@echo ">> helm ready: $@"

helm: $(HELM) ## build the pinned helm into the cache if missing (for the chart's tests)

# kubectl-tern for every platform, with the build information of build-cli, packed as krew
# wants it (a .tar.gz per platform, and a plugin manifest with their sha256).
PLUGIN_PLATFORMS ?= linux/amd64 linux/arm64 darwin/amd64 darwin/arm64 windows/amd64 windows/arm64
KREW_TEMPLATE := manifests/krew/tern.yaml.tmpl
PLUGIN_VERSION ?= $(VERSION)
PLUGIN_URL ?= https://github.com/tern-rollouts/tern/releases/download/$(PLUGIN_VERSION)

plugin: ## build kubectl-tern for linux/darwin/windows x amd64/arm64 into dist/, with krew archives and dist/tern.krew.yaml
	@mkdir -p $(DIST_DIR)/plugin
	@set -e; ldflags='-s -w $(CLI_LDFLAGS)'; \
	for p in $(PLUGIN_PLATFORMS); do \
		os=$${p%/*}; arch=$${p#*/}; ext=; [ $$os = windows ] && ext=.exe; \
		out=$(DIST_DIR)/kubectl-tern-$$os-$$arch$$ext; \
		echo ">> $$out"; \
		CGO_ENABLED=0 GOOS=$$os GOARCH=$$arch $(GO) build -trimpath -ldflags "$$ldflags" -o $$out ./cmd/kubectl-tern; \
		stage=$(DIST_DIR)/plugin/$$os-$$arch; rm -rf $$stage; mkdir -p $$stage; \
		cp $$out $$stage/kubectl-tern$$ext; \
		tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@$(SOURCE_DATE_EPOCH) \
			-C $$stage -cf - kubectl-tern$$ext | gzip -n >$(DIST_DIR)/kubectl-tern-$$os-$$arch.tar.gz; \
	done
	@rm -rf $(DIST_DIR)/plugin
	@set -e; args="-e s|@VERSION@|$(PLUGIN_VERSION)|g -e s|@URL@|$(PLUGIN_URL)|g"; \
	for p in $(PLUGIN_PLATFORMS); do \
		os=$${p%/*}; arch=$${p#*/}; \
		sum=$$(sha256sum $(DIST_DIR)/kubectl-tern-$$os-$$arch.tar.gz | cut -d' ' -f1); \
		args="$$args -e s|@SHA256_$${os}_$${arch}@|$$sum|g"; \
	done; \
	grep -v '^#' $(KREW_TEMPLATE) | sed $$args >$(DIST_DIR)/tern.krew.yaml; \
	if grep -n '@[A-Z0-9_a-z]*@' $(DIST_DIR)/tern.krew.yaml; then echo "unfilled placeholders in $(DIST_DIR)/tern.krew.yaml (PLUGIN_PLATFORMS)" >&2; exit 1; fi
	@echo ">> $(DIST_DIR)/tern.krew.yaml"; cd $(DIST_DIR) && sha256sum kubectl-tern-*

test-install: ## the install tests: stale manifests, image reproducibility, chart vs kustomize, RBAC e2e (needs TERN_E2E_KUBECONFIG)
	$(GO) test -count=1 ./hack/installmanifest/ ./hack/image/ ./test/e2e/install/
