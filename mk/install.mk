# Installing Tern on a cluster: the rendered manifests, the controller image (built without
# Docker) and the Helm chart's helm. All into dist/;
# manifests/install.yaml and manifests/namespace-install.yaml are checked in as well.
KUBECTL ?= $(BIN_DIR)/kubectl
DIST_DIR ?= dist

# helm is built once from the pinned tools module (hack/helm) into $(CACHE_DIR), like
# controller-gen: the version is in the name, so bumping the pin rebuilds it.
HELM_VERSION := $(shell awk '{for (i = 1; i < NF; i++) if ($$i == "helm.sh/helm/v3") {print $$(i+1); exit}}' hack/helm/go.mod)
HELM ?= $(CACHE_DIR)/helm-$(HELM_VERSION)

.PHONY: install-manifest image helm test-install

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

test-install: ## the install tests: stale manifests, image reproducibility, chart vs kustomize
	$(GO) test -count=1 ./hack/installmanifest/ ./hack/image/
