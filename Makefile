# The README's two commands:
#   make run    set up, build, start the control plane on its embedded default
#   make test   set up, build, run every test (default build, ASan+UBSan, TSan,
#               fuzz, and the packagers' Release and MinSizeRel builds)
# Everything else here is a step of those two, or a developer convenience.

BUILD      ?= build
BUILD_ASAN ?= build-asan
BUILD_TSAN ?= build-tsan
BUILD_FUZZ ?= build-fuzz
BUILD_RELEASE ?= build-release
BUILD_MINSIZE ?= build-minsize
FUZZ_SECONDS ?= 20
JOBS       ?= $(shell nproc)
CMAKE_ARGS ?=
CONFIG     ?=

.PHONY: all setup build run test test-default test-asan test-tsan test-fuzz test-release format format-check bench bench-kube bench-fleet bench-ha bench-durability ha-soak durability-soak soak-elector config-docs clean

all: build

setup:
	@scripts/setup-deps.sh

$(BUILD)/build.ninja: | setup
	cmake -S . -B $(BUILD) -G Ninja $(CMAKE_ARGS)

build: setup $(BUILD)/build.ninja
	cmake --build $(BUILD) -j $(JOBS)

# Without CONFIG: the embedded default (no-op plugin, one replica, :8080).
# Builds only the daemon and its plugins, not the tests.
run: setup $(BUILD)/build.ninja
	cmake --build $(BUILD) -j $(JOBS) --target pgdog-control pgdc_plugin_noop pgdc_plugin_kubernetes
	$(BUILD)/bin/pgdog-control $(if $(CONFIG),--config $(CONFIG),)

test: format-check test-default test-asan test-tsan test-fuzz test-release
	@echo "make test: all suites passed (default, asan+ubsan, tsan, fuzz, release+minsizerel)"

test-default: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS) --timeout 600

# Sanitizer variants build only the unit tests and the plugins they load.
test-asan: setup
	cmake -S . -B $(BUILD_ASAN) -G Ninja -DPGDC_SANITIZE=asan -DCMAKE_BUILD_TYPE=Debug $(CMAKE_ARGS)
	cmake --build $(BUILD_ASAN) -j $(JOBS) --target pgdc_unit_tests
	cd $(BUILD_ASAN) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest --output-on-failure -j $(JOBS) -L unit --timeout 600

test-tsan: setup
	cmake -S . -B $(BUILD_TSAN) -G Ninja -DPGDC_SANITIZE=tsan -DCMAKE_BUILD_TYPE=Debug $(CMAKE_ARGS)
	cmake --build $(BUILD_TSAN) -j $(JOBS) --target pgdc_unit_tests
	cd $(BUILD_TSAN) && TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
	  ctest --output-on-failure -j $(JOBS) -L unit --timeout 600

# What packagers build: Release (-O3) and MinSizeRel (-Os), every target
# (daemon, plugins, tests) with warnings as errors (PGDC_WERROR=ON; it is off
# by default for these build types, so a new compiler's warning cannot stop a
# distribution's build), and the unit tests on the optimised code.
test-release: setup
	cmake -S . -B $(BUILD_RELEASE) -G Ninja -DCMAKE_BUILD_TYPE=Release -DPGDC_WERROR=ON $(CMAKE_ARGS)
	cmake --build $(BUILD_RELEASE) -j $(JOBS)
	cd $(BUILD_RELEASE) && ctest --output-on-failure -j $(JOBS) -L unit --timeout 600
	cmake -S . -B $(BUILD_MINSIZE) -G Ninja -DCMAKE_BUILD_TYPE=MinSizeRel -DPGDC_WERROR=ON $(CMAKE_ARGS)
	cmake --build $(BUILD_MINSIZE) -j $(JOBS)
	cd $(BUILD_MINSIZE) && ctest --output-on-failure -j $(JOBS) -L unit --timeout 600

# libFuzzer on the API request parsers (clang; its own build dir), each target
# for FUZZ_SECONDS from its seed corpus in tests/fuzz/corpus/; fails on a finding.
test-fuzz: setup
	CC=clang CXX=clang++ cmake -S . -B $(BUILD_FUZZ) -G Ninja -DPGDC_FUZZ=ON \
	  -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_ARGS)
	cmake --build $(BUILD_FUZZ) -j $(JOBS)
	tests/fuzz/run_fuzzers.sh $(BUILD_FUZZ) $(FUZZ_SECONDS)

FORMAT_FILES = $(shell git ls-files '*.h' '*.hpp' '*.cpp' '*.c' 2>/dev/null)

format:
	clang-format -i $(FORMAT_FILES)

# docs/configuration.md's key tables, rewritten from the config schema
# (core/config/config_schema.cpp); a unit test fails when they differ.
config-docs: setup $(BUILD)/build.ninja
	cmake --build $(BUILD) -j $(JOBS) --target pgdc_unit_config
	PGDC_UPDATE_DOCS=1 $(BUILD)/bin/pgdc_unit_config --gtest_filter='ConfigSchema.Docs*'

format-check: setup
	@clang-format --dry-run --Werror $(FORMAT_FILES) && echo "format-check: clean"

bench: build
	python3 tests/bench/bench_daemon.py $(BUILD)

# Leader election on a real kube-apiserver (starts its own; ~5 minutes).
bench-kube: build
	python3 tests/bench/bench_kube.py $(BUILD)

# The machine API under a simulated PgDog fleet (tests/bench/fleetload, Go):
# 5,000 nodes at PgDog's intervals by default. BENCH_FLEET_ARGS e.g. "--nodes 1000".
bench-fleet: build
	python3 tests/bench/bench_fleet.py $(BUILD) $(BENCH_FLEET_ARGS)

# pgdog-control vs client-go's elector under the same harness (docs/benchmarks.md,
# "HA comparison"; ~27 minutes). BENCH_HA_ARGS e.g. "--handovers 5 --settings seed".
bench-ha: build
	python3 tests/ha/bench_ha.py $(BUILD) $(BENCH_HA_ARGS)

# What durable control state costs on a real kube-apiserver: issue latency,
# delivery after a SIGKILL failover, configmap requests per command and per
# 1,000 acks, state size with 5,000 nodes. BENCH_DURABILITY_ARGS e.g. "--commands 500".
bench-durability: setup $(BUILD)/build.ninja
	cmake --build $(BUILD) -j $(JOBS) --target pgdog-control pgdc_plugin_kubernetes pgdc_plugin_noop
	python3 tests/bench/bench_durability.py $(BUILD) $(BENCH_DURABILITY_ARGS)

# The long randomized fault mode (docs/fault-injection.md); fails on any
# overlap or liveness failure. e.g. make ha-soak ROUNDS=500 SEED=7
ROUNDS ?= 500
SEED   ?= 1
ha-soak: build
	python3 tests/ha/soak.py --build $(BUILD) --rounds $(ROUNDS) --seed $(SEED)

# Nothing accepted is lost (issue 14; docs/fault-injection.md): 3 replicas on
# a real kube-apiserver, simulated nodes, a fleet-wide command every 0.5 s, the
# leader killed (SIGKILL/SIGTERM) at a random point each round. The last line
# is "N rounds, K commands, 0 lost" on success. e.g. make durability-soak ROUNDS=200 SEED=7
# (DURABILITY_ARGS e.g. "--nodes 10 --minutes 30").
durability-soak: setup $(BUILD)/build.ninja
	cmake --build $(BUILD) -j $(JOBS) --target pgdog-control pgdc_plugin_kubernetes pgdc_plugin_noop
	python3 tests/kube/durability_soak.py --build $(BUILD) --rounds $(ROUNDS) --seed $(SEED) $(DURABILITY_ARGS)

# The elector against the adversary (docs/high-availability.md, "What can
# break a lease-based leader"), on a simulated time line: make test runs
# 100,000 steps; e.g. make soak-elector STEPS=5000000 SEED=7 (about 40 s per
# million steps). Fails with the seed and the last actions.
STEPS ?= 1000000
soak-elector: setup $(BUILD)/build.ninja
	cmake --build $(BUILD) -j $(JOBS) --target pgdc_unit_kube_election
	PGDC_SOAK_STEPS=$(STEPS) PGDC_SOAK_SEED=$(SEED) $(BUILD)/bin/pgdc_unit_kube_election \
	  --gtest_filter='AdversarialSoak.*'

# The OCI image (docs/deployment.md): daemon, plugins and their exact library
# closure FROM scratch, built daemonless with buildah. Writes
# $(BUILD)/image/pgdog-control-<version>.oci.tar and $(BUILD)/image/manifest.tsv.
.PHONY: image image-test
image: setup $(BUILD)/build.ninja
	cmake --build $(BUILD) -j $(JOBS) --target pgdog-control pgdc_plugin_noop pgdc_plugin_kubernetes
	helm/image/build-image.sh --build-dir $(BUILD)

# Only the image tests (podman; also part of test-default, CTest label "image").
image-test: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS) -L image --timeout 600

clean:
	rm -rf $(BUILD) $(BUILD_ASAN) $(BUILD_TSAN) $(BUILD_FUZZ)
