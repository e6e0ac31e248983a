# Thin wrapper over CMake. `make run` and `make test` are the README's two commands.
BUILD      ?= build
BUILD_TYPE ?= Release
JOBS       ?= $(shell nproc)
ARGS       ?= --listen 127.0.0.1:8080 --data-dir data
# ON: compiler warnings fail the build (CI runs `make test WERROR=ON`)
WERROR     ?= OFF

# configure + build + ctest in directory $(1) with extra CMake flags $(2)
define ctest_in
	@cmake -S . -B $(1) $(2) >/dev/null
	@cmake --build $(1) -j $(JOBS)
	@cd $(1) && ctest --output-on-failure -j $(JOBS)
endef

# Arguments for bench/run (see bench/run --help), e.g.
#   make bench BENCH_ARGS="--seconds 2 --connections 64 --skip-startup"
BENCH_ARGS ?=

# `make fuzz`: every libFuzzer target of tests/fuzz/ for FUZZ_SECONDS each (or
# FUZZ_RUNS executions each, e.g. FUZZ_RUNS=10000000), built with clang in
# build-fuzz; FUZZ_TARGETS picks some. `make test` replays their corpora.
FUZZ_SECONDS ?= 60
FUZZ_RUNS    ?=
FUZZ_TARGETS ?= create status query idem_key conditional user_id bearer record journal money money_diff

.PHONY: all deps build run test package package-install-test bench asan tsan fuzz clean

all: build

deps:
	@bash .ci/deps

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) -DORDERD_WERROR=$(WERROR) >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

run: build
	@mkdir -p data
	./$(BUILD)/orderd $(ARGS)

test: build
	@cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

# The .deb (cpack -G DEB): build/orderd_<version>_<arch>.deb; install it
# with `sudo apt install ./build/orderd_*.deb` (README, Installation).
package: build
	@cd $(BUILD) && cpack -G DEB

# The .deb installed into a clean Debian 12 root (debootstrap, cached in
# ~/.cache/orderd) and run there: tests/package_install_test.sh, as root.
package-install-test: build
	@cd $(BUILD) && ORDERD_INSTALL_TEST=1 ctest -R '^package_install$$' --verbose

# The bench (docs/benchmarks.md): orderd against bench/limit with wrk and
# h2load, then replay, start-up and memory with 1M orders. bench/run builds
# Release in $(BUILD) and writes bench/results/<UTC time>/ and latest/.
bench:
	@bash .ci/deps wrk nghttp2-client gnuplot-nox iproute2
	@bench/run --build $(BUILD) $(BENCH_ARGS)

# The whole suite under AddressSanitizer + UndefinedBehaviorSanitizer.
asan: deps
	$(call ctest_in,build-asan,-DCMAKE_BUILD_TYPE=Debug -DORDERD_SANITIZE=address -DORDERD_WERROR=$(WERROR))

# The unit tests (the store, the journal writer and group-commit threads)
# under ThreadSanitizer. The black-box suites are left out: libh2o is not
# built with TSan, so its internal hand-offs show up as false races.
tsan: deps
	@cmake -S . -B build-tsan -DCMAKE_BUILD_TYPE=Debug -DORDERD_SANITIZE=thread -DORDERD_WERROR=$(WERROR) >/dev/null
	@cmake --build build-tsan -j $(JOBS)
	@cd build-tsan && ctest --output-on-failure -j $(JOBS) -R '_test$$'

fuzz: deps
	@bash .ci/deps clang libclang-rt-14-dev libfuzzer-14-dev
	@cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo -DORDERD_FUZZ=ON \
	  -DORDERD_WERROR=$(WERROR) >/dev/null
	@cmake --build build-fuzz -j $(JOBS) --target fuzz_targets
	@bash tests/fuzz/run.sh build-fuzz "$(FUZZ_SECONDS)" "$(FUZZ_RUNS)" $(FUZZ_TARGETS)

clean:
	rm -rf build build-asan build-tsan build-fuzz
