# Fault injection (test/chaos): controller SIGKILLs at random points of updates, API server
# restarts, Prometheus stopped mid-analysis, conflicting writes, all watched by the invariant
# monitor. `make chaos` is the long form, on a control plane of its own (private ports, so that
# restarting its API server disturbs nobody), stopped again at the end; `make test` runs a short
# form on the shared control plane. The report table is printed last.
CHAOS_STATE_DIR ?= /tmp/chaos-cluster
CHAOS_API_PORT ?= 49443
CHAOS_ETCD_PORT ?= 49379
CHAOS_ETCD_PEER_PORT ?= 49380
CHAOS_KCM_PORT ?= 49257
CHAOS_SCHED_PORT ?= 49259
CHAOS_KWOK_PORT ?= 49247
CHAOS_REPORT ?= $(or $(TMPDIR),/tmp)/tern-chaos-report.txt
CHAOS_TIMEOUT ?= 150m
# kill points per kill scenario and updates per scenario; empty keeps the suite's defaults
CHAOS_KILLS ?=
CHAOS_UPDATES ?=
CHAOS_SEED ?=

.PHONY: chaos

chaos: cluster-build prometheus-install ## fault injection, long form (>=50 kill points), on its own control plane; prints the report table
	@rm -f $(CHAOS_REPORT)
	@TERN_CHAOS=1 BIN_DIR=$(BIN_DIR) TERN_CHAOS_REPORT=$(CHAOS_REPORT) \
		TERN_CHAOS_STATE_DIR=$(CHAOS_STATE_DIR) TERN_CHAOS_API_PORT=$(CHAOS_API_PORT) \
		TERN_CHAOS_ETCD_PORT=$(CHAOS_ETCD_PORT) TERN_CHAOS_ETCD_PEER_PORT=$(CHAOS_ETCD_PEER_PORT) \
		TERN_CHAOS_KCM_PORT=$(CHAOS_KCM_PORT) TERN_CHAOS_SCHED_PORT=$(CHAOS_SCHED_PORT) \
		TERN_CHAOS_KWOK_PORT=$(CHAOS_KWOK_PORT) \
		$(if $(CHAOS_KILLS),TERN_CHAOS_KILLS=$(CHAOS_KILLS)) $(if $(CHAOS_UPDATES),TERN_CHAOS_UPDATES=$(CHAOS_UPDATES)) \
		$(if $(CHAOS_SEED),TERN_CHAOS_SEED=$(CHAOS_SEED)) \
		$(GO) test -count=1 -p 1 -timeout $(CHAOS_TIMEOUT) -v ./test/chaos/; status=$$?; \
		echo; cat $(CHAOS_REPORT) 2>/dev/null || echo "chaos: no report written (see the output above)"; exit $$status
