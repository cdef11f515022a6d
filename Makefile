# The front door. Everything real is in CMake; these targets configure,
# build and run it with one word each.
BUILD      ?= build
BUILD_TYPE ?= Release
CMAKE_ARGS ?=
JOBS       ?= $(shell nproc 2>/dev/null || echo 2)

.PHONY: all configure build demo test install uninstall bench clean windows windows-test

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

# Before installing for real, a staged install (DESTDIR) lists the files,
# and the directories on their way that do not exist yet are added to
# $(BUILD)/install_dirs.txt: what uninstall may remove once empty.
install: build
	@rm -rf $(BUILD)/.stage
	@DESTDIR="$(abspath $(BUILD))/.stage" cmake --install $(BUILD) $(if $(PREFIX),--prefix $(PREFIX)) >/dev/null
	@touch $(BUILD)/install_dirs.txt; \
	while IFS= read -r f || [ -n "$$f" ]; do \
	  d=$$(dirname -- "$$f"); \
	  while [ "$$d" != / ] && [ "$$d" != . ] && [ ! -d "$$d" ]; do echo "$$d"; d=$$(dirname -- "$$d"); done; \
	done < $(BUILD)/install_manifest.txt | sort -u - $(BUILD)/install_dirs.txt -o $(BUILD)/install_dirs.txt
	@rm -rf $(BUILD)/.stage
	cmake --install $(BUILD) $(if $(PREFIX),--prefix $(PREFIX))

# Remove exactly what the last install from $(BUILD) put in place (CMake's
# install_manifest.txt, which names every file with its prefix), then the
# directories that install created, deepest first, where they are empty.
uninstall:
	@test -f $(BUILD)/install_manifest.txt || \
	  { echo "uninstall: no $(BUILD)/install_manifest.txt: nothing installed from $(BUILD)" >&2; exit 1; }
	@while IFS= read -r f || [ -n "$$f" ]; do \
	  if [ -e "$$f" ] || [ -L "$$f" ]; then rm -f -- "$$f" && echo "removed $$f"; fi; \
	done < $(BUILD)/install_manifest.txt
	@if [ -f $(BUILD)/install_dirs.txt ]; then \
	  sort -r $(BUILD)/install_dirs.txt | while IFS= read -r d; do \
	    rmdir -- "$$d" 2>/dev/null && echo "removed $$d/"; \
	  done; rm -f $(BUILD)/install_dirs.txt; \
	fi; true

# Benchmarks: a Release build of its own, peers included when installed,
# figures in bench/results/ and docs/latency.png (see docs/benchmarks.md).
bench:
	bench/run.sh

# Windows: cross-build the library, shmkit.exe and the Windows tests with
# mingw-w64 into $(WIN_BUILD); windows-test runs the tests under wine.
WIN_BUILD ?= build-win
windows:
	@command -v x86_64-w64-mingw32-gcc >/dev/null || \
	  { echo "make windows: no x86_64-w64-mingw32-gcc (Debian: apt-get install gcc-mingw-w64-x86-64)" >&2; exit 1; }
	cmake -S . -B $(WIN_BUILD) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) \
	  -DCMAKE_TOOLCHAIN_FILE=$(abspath cmake/mingw-w64-x86_64.cmake) $(CMAKE_ARGS) >/dev/null
	cmake --build $(WIN_BUILD) -j $(JOBS)

windows-test: windows
	cd $(WIN_BUILD) && ctest --output-on-failure -j $(JOBS)

clean:
	rm -rf $(BUILD) $(WIN_BUILD)
