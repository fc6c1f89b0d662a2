# Local control plane for e2e tests and demos (test/cluster/README.md): etcd, kube-apiserver,
# kube-controller-manager, kube-scheduler and kwok fake nodes, built from the Go module proxy into
# $(BIN_DIR) and run from $(STATE_DIR), all on 127.0.0.1.
CLUSTER_SCRIPTS := test/cluster
CLUSTER_ENV = K8S_VERSION=$(K8S_VERSION) BIN_DIR=$(BIN_DIR) STATE_DIR=$(STATE_DIR)

.PHONY: cluster-build cluster-up cluster-down cluster-smoke cluster-restart-apiserver

cluster-build: ## build etcd, kube-* and kwok into ~/.cache/tern (cold ~10 min, then cached)
	@$(CLUSTER_ENV) $(CLUSTER_SCRIPTS)/build.sh

cluster-up: cluster-build ## start the local control plane (~5 s; prints export KUBECONFIG=...)
	@$(CLUSTER_ENV) $(CLUSTER_SCRIPTS)/up.sh

cluster-down: ## stop the local control plane and delete its state (etcd data, logs)
	@$(CLUSTER_ENV) $(CLUSTER_SCRIPTS)/down.sh --purge

cluster-smoke: ## check the running cluster: pods Ready, :bad-ready never Ready, :bad-crash crash-loops
	@$(CLUSTER_ENV) $(CLUSTER_SCRIPTS)/smoke.sh

cluster-restart-apiserver: ## restart only kube-apiserver of the running cluster (etcd data kept)
	@$(CLUSTER_ENV) $(CLUSTER_SCRIPTS)/up.sh --restart-apiserver
