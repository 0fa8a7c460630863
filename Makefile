# SPDX-License-Identifier: MIT
# make demo: set up what is missing, build, run the main job on the simulated board.
# make test: set up what is missing, build, run every test (GoogleTest, pytest, notebooks).
BUILD ?= build
PY := .venv/bin/python
JOBS ?= 2
export PYTHONPATH := $(CURDIR)/$(BUILD)/python
export PATH := $(CURDIR)/$(BUILD)/cpp:$(PATH)

.PHONY: all bootstrap build demo test test-cpp test-python bench pip-check clean

all: build

bootstrap:
	@scripts/bootstrap.sh

$(BUILD)/build.ninja: | bootstrap
	cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Release \
	  -DPython_EXECUTABLE=$(CURDIR)/$(PY) \
	  -Dpybind11_DIR=$$($(PY) -m pybind11 --cmakedir)

# The .venv uses the build tree (scripts/dev_install.py): .venv/bin/mp1boot, python -m mp1boot, the
# Jupyter kernel and the pytest plugin; `. .venv/bin/activate` puts mp1boot on PATH.
build: bootstrap $(BUILD)/build.ninja
	cmake --build $(BUILD) -j $(JOBS)
	$(PY) scripts/dev_install.py $(BUILD)

# What the demo runs: the Python module and the USB simulator (no test executables).
DEMO_TARGETS := _core mp1boot_python_files mp1boot_python_tools
demo: bootstrap $(BUILD)/build.ninja
	cmake --build $(BUILD) -j $(JOBS) --target $(DEMO_TARGETS)
	$(PY) scripts/dev_install.py $(BUILD)
	$(PY) examples/python/demo.py

test: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS) --timeout 300
	$(PY) -m pytest -q tests/python

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
