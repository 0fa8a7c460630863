# SPDX-License-Identifier: MIT
# make demo: set up what is missing, build, run the main job on the simulated board.
# make test: set up what is missing, build, run every test (GoogleTest, pytest, notebooks).
BUILD ?= build
PY := .venv/bin/python
JOBS ?= 2
export PYTHONPATH := $(CURDIR)/$(BUILD)/python
export PATH := $(CURDIR)/$(BUILD)/cpp:$(PATH)

.PHONY: all bootstrap build demo test test-cpp test-python bench pip-check clean asan fuzz soak

all: build

bootstrap:
	@scripts/bootstrap.sh

$(BUILD)/build.ninja: | bootstrap
	cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Release \
	  -DPython_EXECUTABLE=$(CURDIR)/$(PY) \
	  -Dpybind11_DIR=$$($(PY) -m pybind11 --cmakedir)

build: bootstrap $(BUILD)/build.ninja
	cmake --build $(BUILD) -j $(JOBS)

demo: build
	$(PY) examples/python/demo.py

test: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS) --timeout 300
	$(PY) -m pytest -q tests/python

# make asan: the C++ library, tools and every C++ test (GoogleTest, compile and consumer tests)
# under AddressSanitizer + UndefinedBehaviorSanitizer + LeakSanitizer (CMake preset asan, in
# build-asan/, no Python module); any finding fails its test (-fno-sanitize-recover).
asan: bootstrap
	cmake --preset asan
	cmake --build --preset asan -j $(JOBS)
	ctest --preset asan -j $(JOBS)

# make fuzz: every libFuzzer harness of tests/fuzz for FUZZ_SECONDS each (clang, build-fuzz/).
FUZZ_SECONDS ?= 300
fuzz: bootstrap
	tests/fuzz/run.sh $(FUZZ_SECONDS)

# make soak: a long seeded fault campaign (random seed, printed; replay one run with
# MP1BOOT_CAMPAIGN_SEED=N MP1BOOT_CAMPAIGN_RUNS=1).
SOAK_RUNS ?= 2000
soak: build
	cd $(BUILD) && MP1BOOT_CAMPAIGN_RUNS=$(SOAK_RUNS) MP1BOOT_CAMPAIGN_SEED=$${MP1BOOT_CAMPAIGN_SEED:-$$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')} \
	  ./tests/mp1boot_flasher_tests --gtest_filter='FaultCampaign.*'

bench: build
	$(PY) bench/uart_throughput.py
	$(PY) bench/dfu_throughput.py

# `pip install .` works: build the wheel into a scratch folder (not into .venv, whose tests use the
# build tree) and run the installed package's CLI from it.
PIP_TARGET := $(CURDIR)/$(BUILD)/pip-target
pip-check: bootstrap
	rm -rf $(PIP_TARGET)
	$(PY) -m pip install -q --no-build-isolation --target $(PIP_TARGET) .
	cd /tmp && PYTHONPATH=$(PIP_TARGET) $(CURDIR)/$(PY) -c "import mp1boot; assert mp1boot.__file__.startswith('$(PIP_TARGET)'); d = mp1boot.connect('sim:stm32mp135'); print('pip install ok:', mp1boot.__version__, hex(d.get_id()))"

clean:
	rm -rf $(BUILD)
