# The front door. Everything real is in CMake; these targets configure,
# build and run it with one word each.
BUILD      ?= build
BUILD_TYPE ?= Release
CMAKE_ARGS ?=
JOBS       ?= $(shell nproc 2>/dev/null || echo 2)

.PHONY: all configure build demo test install bench clean

all: build

configure:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) $(CMAKE_ARGS) >/dev/null

build: configure
	cmake --build $(BUILD) -j $(JOBS)

# The main job: every backend this host has, parent and child, one table.
demo: build
	$(BUILD)/shmkit demo

test: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

install: build
	cmake --install $(BUILD) $(if $(PREFIX),--prefix $(PREFIX))

# Benchmarks: a Release build of its own, peers included when installed,
# figures in bench/results/ and docs/latency.png (see docs/benchmarks.md).
bench:
	bench/run.sh

clean:
	rm -rf $(BUILD)
