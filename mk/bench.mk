# Benchmark (bench/README.md): the harness drives rollouts on a private local control plane
# (bench/cluster.sh: test/cluster on its own ports, etcd on tmpfs) and writes JSON per run,
# summary.md and PNG plots under bench/results/.
BENCH_STATE_DIR ?= /dev/shm/tern-bench
BENCH_BIN := bin/bench
# Extra harness flags, e.g. a second controller for an A/B comparison:
#   make bench BENCH_ARGS='-controller "argo=/path/rollouts-controller --kubeconfig {kubeconfig} ..."'
BENCH_ARGS ?=
# 1 keeps the bench cluster running afterwards (the next run starts faster).
BENCH_KEEP_CLUSTER ?=
BENCH_CLUSTER = BENCH_STATE_DIR=$(BENCH_STATE_DIR) BIN_DIR=$(BIN_DIR) K8S_VERSION=$(K8S_VERSION) bench/cluster.sh
BENCH_RUN = eval "$$($(BENCH_CLUSTER) env)" && $(BENCH_BIN)/bench -kubeconfig "$$KUBECONFIG" -controller-kubeconfig "$$CONTROLLER_KUBECONFIG" -source '$(BENCH_SOURCE)'
# canary-complete at N=1000 (and idle) with the controller's client limits raised: at QPS 40
# a thousand updates of ~40 requests each would wait on the client's own rate limiter for
# most of their time, and the figure would measure the limiter, not the controller.
BENCH_BIG_CONTROLLER ?= tern-qps200=$(BENCH_BIN)/tern-controller --kubeconfig={kubeconfig} --leader-elect=false --metrics-bind-address={metrics} --health-probe-bind-address={health} --qps=200 --burst=400
# The controller measured: the working tree (default) or a git revision, e.g. BENCH_REV=HEAD
# to measure the last commit while the tree is being edited.
BENCH_REV ?=
BENCH_SOURCE = $(if $(BENCH_REV),commit $(shell git rev-parse --short=12 $(BENCH_REV)),working tree at $(shell git describe --tags --always --dirty 2>/dev/null))

.PHONY: bench bench-short bench-build bench-report bench-cluster-up bench-cluster-down

bench-build: ## build the harness, the controller (BENCH_REV=rev: from a commit) and the traffic simulator into bin/bench/
	@mkdir -p $(BENCH_BIN)
	@GO=$(GO) bench/build-controller.sh $(BENCH_BIN)/tern-controller $(BENCH_REV)
	$(GO) build -o $(BENCH_BIN)/tern-trafficsim ./test/trafficsim
	cd bench && $(GO) build -o ../$(BENCH_BIN)/bench .

bench-cluster-up: cluster-build ## start the bench's private control plane (NODES=50 for N=1000)
	@NODES=$${NODES:-6} $(BENCH_CLUSTER) up

bench-cluster-down: ## stop the bench's control plane and delete its state
	@$(BENCH_CLUSTER) down

# Each floor and the scenario it bounds run three times, interleaved: their ratio is a
# target, and a floor is only a floor when both see the same machine load.
bench: bench-build cluster-build ## every scenario at full size (N up to 1000, idle 10 min; ~1 h) -> bench/results/full
	@NODES=60 $(BENCH_CLUSTER) up >/dev/null
	@status=0; \
	$(BENCH_RUN) -fresh -out bench/results/full -runs 3 -scenarios floor,step-latency,floor-healthy,promote-healthy $(BENCH_ARGS) || status=$$?; \
	$(BENCH_RUN) -out bench/results/full -sizes 1,100 $(BENCH_ARGS) \
		-scenarios bluegreen-switch,rollback-latency,canary-complete,canary-reference || status=$$?; \
	$(BENCH_RUN) -out bench/results/full -scenarios canary-complete,idle -sizes 100,1000 \
		-controller '$(BENCH_BIG_CONTROLLER)' || status=$$?; \
	[ -n "$(BENCH_KEEP_CLUSTER)" ] || $(BENCH_CLUSTER) down; exit $$status

bench-short: bench-build cluster-build ## every scenario at small sizes (under 5 min) -> bench/results/short
	@NODES=6 $(BENCH_CLUSTER) up >/dev/null
	@status=0; $(BENCH_RUN) -fresh -short -out bench/results/short $(BENCH_ARGS) || status=$$?; \
	[ -n "$(BENCH_KEEP_CLUSTER)" ] || $(BENCH_CLUSTER) down; exit $$status

bench-report: bench-build ## rebuild summary.md and the plots of bench/results/{full,short} from their JSON
	@for d in bench/results/full bench/results/short; do [ ! -f $$d/machine.json ] || $(BENCH_BIN)/bench -report -out $$d; done
