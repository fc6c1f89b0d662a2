.PHONY: demo
demo: ## run the seed walkthroughs on a local control plane, narrated (KEEP=1 leaves it running)
	@GO=$(GO) BIN_DIR=$(BIN_DIR) K8S_VERSION=$(K8S_VERSION) hack/demo.sh
