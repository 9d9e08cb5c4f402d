# kube-usage-operator: the developer's entry points. `make help` lists them.
SHELL := /usr/bin/env bash
.DEFAULT_GOAL := help
NPM ?= npm

# Exactly what the lockfile says (it is complete, optional platform packages included).
node_modules/.installed: package.json package-lock.json
	$(NPM) ci --no-audit --no-fund
	@touch $@

.PHONY: help
help: ## List the targets
	@grep -E '^[a-zA-Z0-9_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

.PHONY: deps
deps: node_modules/.installed ## Install npm packages (Node 24 comes as the `node` package)

.PHONY: test-env
test-env: ## Build the test cluster's and FerretDB's binaries into the cache (once per machine)
	bash scripts/testenv/build.sh >/dev/null

.PHONY: browser
browser: ## Install Debian's chromium for the dashboard's browser tests (once per machine; apt, as root)
	@command -v chromium >/dev/null || [ -x /usr/lib/chromium/chromium ] || \
	  { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium; }

.PHONY: build
build: deps ## Compile TypeScript into dist/
	$(NPM) run build

.PHONY: generate
generate: deps ## Regenerate crds/ and docs/reference/ from the schemas in api/ and the metrics registries
	$(NPM) run generate

.PHONY: lint
lint: deps ## ESLint and Prettier
	$(NPM) run lint

.PHONY: test
test: ## Type-check, lint, unit tests, then the integration tests and the real-node e2e side by side (root; starts and stops everything it needs)
	$(MAKE) --no-print-directory -j3 test-prepare
	NPM=$(NPM) bash scripts/testenv/integration-and-node.sh

# What `make test` does before the integration tests, in three chains side by side: the test
# binaries (CPU: compiling Go), the checks and unit tests (need no servers), and the Debian
# packages (network: chromium, then the real node's, when root).
.PHONY: test-prepare test-env-all test-checks test-packages
test-prepare: test-env-all test-checks test-packages
# The real node's kubelet and kube-proxy too: one compile of Kubernetes with the control plane.
test-env-all:
	bash scripts/testenv/build.sh all >/dev/null
test-checks: deps
	$(NPM) run typecheck && $(NPM) run lint && $(NPM) run test:unit
test-packages: browser
	@if [ "$$(id -u)" = 0 ]; then bash scripts/testenv/node.sh install; fi

.PHONY: e2e-node
e2e-node: deps test-env ## The image built and installed with kubectl apply -k on a real node (kubelet + containerd), measured against the kernel's counters (root)
	bash scripts/testenv/node-e2e.sh

.PHONY: e2e-node-agent
e2e-node-agent: deps test-env ## On the real node, only the agent-vs-kubelet comparison, RUNS times in a row (default 20; root)
	bash scripts/testenv/node-e2e.sh agent-compare $(or $(RUNS),20)

.PHONY: test-unit
test-unit: deps ## Unit tests only (no servers)
	$(NPM) run test:unit

.PHONY: bench
bench: deps test-env ## Benchmarks; print figures
	$(NPM) run bench

.PHONY: dev
dev: deps test-env ## Run it locally: simulated cluster, FerretDB, the operator and samples (Ctrl-C stops)
	$(NPM) run dev

.PHONY: dev-down
dev-down: ## Stop everything `make dev` started
	bash scripts/dev-down.sh

# kind: try it in a real (local) cluster. Needs docker, kind and kubectl; KIND_CLUSTER picks the name.
.PHONY: kind-up
kind-up: ## kind cluster + metrics-server + the image built and loaded + deployed, waits until ready
	bash scripts/kind/up.sh

.PHONY: kind-e2e
kind-e2e: ## End-to-end scenario against the `make kind-up` cluster (alerts, API auth, failover)
	bash scripts/kind/e2e.sh

.PHONY: kind-down
kind-down: ## Delete the `make kind-up` cluster
	bash scripts/kind/down.sh
