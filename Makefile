# Thin wrapper over CMake. `make run` and `make test` are the README's two commands.
BUILD      ?= build
BUILD_TYPE ?= Release
JOBS       ?= $(shell nproc)
ARGS       ?= --listen 127.0.0.1:8080 --data-dir data

# configure + build + ctest in directory $(1) with extra CMake flags $(2)
define ctest_in
	@cmake -S . -B $(1) $(2) >/dev/null
	@cmake --build $(1) -j $(JOBS)
	@cd $(1) && ctest --output-on-failure -j $(JOBS)
endef

.PHONY: all deps build run test asan tsan clean

all: build

deps:
	@bash .ci/deps

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

run: build
	@mkdir -p data
	./$(BUILD)/orderd $(ARGS)

test: build
	@cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

# The whole suite under AddressSanitizer + UndefinedBehaviorSanitizer.
asan: deps
	$(call ctest_in,build-asan,-DCMAKE_BUILD_TYPE=Debug -DORDERD_SANITIZE=address)

# The whole suite (the store's threaded tests above all) under ThreadSanitizer.
tsan: deps
	$(call ctest_in,build-tsan,-DCMAKE_BUILD_TYPE=Debug -DORDERD_SANITIZE=thread)

clean:
	rm -rf build build-asan build-tsan
