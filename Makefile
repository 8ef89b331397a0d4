# vMotion Labs: `make lab` opens the course, `make test` checks all of it.
# Both first set up the machine: Debian/Ubuntu packages (Go and govmomi's
# simulator sources; QEMU, busybox-static and gcc for the real-migration lab),
# a virtualenv with the package, the simulator build and the lab guest.

SHELL := /bin/bash
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin

.PHONY: lab test setup system venv sim guest benchmark clean

lab: setup
	$(BIN)/labkit lab

test: setup
	$(BIN)/python -m pytest --nbval

setup: system venv sim guest

system:
	@bash scripts/system-packages.sh

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $@

sim: venv
	$(BIN)/labkit sim build

guest: venv
	$(BIN)/labkit qemu build

benchmark: setup
	$(BIN)/python benchmarks/inventory.py
	$(BIN)/python benchmarks/reset.py
	$(BIN)/python benchmarks/grading.py
	$(BIN)/python benchmarks/precopy.py
	$(BIN)/python benchmarks/compat_matrix.py
	$(BIN)/python benchmarks/real_precopy.py

clean:
	-$(BIN)/labkit sim stop
	rm -rf $(VENV)
