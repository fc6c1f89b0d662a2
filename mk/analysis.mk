# Analysis against real metrics on the local control plane: Debian's Prometheus binary (never
# installed as a service) scraping the traffic simulator, which makes up request counters for
# Ready rollout pods (kwok pods run nothing). All on 127.0.0.1; stopped by saved PIDs.
PROMETHEUS_PORT ?= 19090
TRAFFICSIM_ADDR ?= 127.0.0.1:19091
TRAFFICSIM_DIR ?= $(or $(TMPDIR),/tmp)/tern-trafficsim
PROMETHEUS_ENV = PROMETHEUS_PORT=$(PROMETHEUS_PORT) TRAFFICSIM_ADDR=$(TRAFFICSIM_ADDR) CACHE_DIR=$(CACHE_DIR)

.PHONY: prometheus-install prometheus-up prometheus-down build-trafficsim trafficsim-up trafficsim-down

prometheus-install: ## download Debian's prometheus binary into ~/.cache/tern (no service; instant once cached)
	@$(PROMETHEUS_ENV) test/prometheus/install.sh

prometheus-up: ## start Prometheus on 127.0.0.1:19090 (PROMETHEUS_PORT), scraping the traffic simulator every 1s
	@$(PROMETHEUS_ENV) test/prometheus/up.sh

prometheus-down: ## stop the Prometheus of prometheus-up and delete its data
	@$(PROMETHEUS_ENV) test/prometheus/down.sh --purge

build-trafficsim: ## build bin/tern-trafficsim (fake request counters for Ready rollout pods)
	$(GO) build -o bin/tern-trafficsim ./test/trafficsim

trafficsim-up: build-trafficsim ## start the traffic simulator on 127.0.0.1:19091 against the local control plane
	@mkdir -p $(TRAFFICSIM_DIR)
	@if [ -s $(TRAFFICSIM_DIR)/pid ] && kill -0 $$(cat $(TRAFFICSIM_DIR)/pid) 2>/dev/null; then \
		echo ">> traffic simulator already running (pid $$(cat $(TRAFFICSIM_DIR)/pid))"; \
	else \
		nohup bin/tern-trafficsim --kubeconfig $(STATE_DIR)/kubeconfig --listen $(TRAFFICSIM_ADDR) \
			>$(TRAFFICSIM_DIR)/log 2>&1 </dev/null & echo $$! >$(TRAFFICSIM_DIR)/pid; \
		for i in $$(seq 1 50); do curl -fsS http://$(TRAFFICSIM_ADDR)/healthz >/dev/null 2>&1 && break; sleep 0.2; done; \
		curl -fsS http://$(TRAFFICSIM_ADDR)/healthz >/dev/null || { cat $(TRAFFICSIM_DIR)/log; exit 1; }; \
		echo ">> traffic simulator on http://$(TRAFFICSIM_ADDR)/metrics (pid $$(cat $(TRAFFICSIM_DIR)/pid))"; \
	fi

trafficsim-down: ## stop the traffic simulator of trafficsim-up
	@pid=$$(cat $(TRAFFICSIM_DIR)/pid 2>/dev/null); \
	if [ -n "$$pid" ] && grep -q tern-trafficsim /proc/$$pid/cmdline 2>/dev/null; then kill $$pid && echo ">> traffic simulator stopped"; \
	else echo ">> no traffic simulator running"; fi; rm -f $(TRAFFICSIM_DIR)/pid
