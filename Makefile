# vMotion Labs: `make lab` opens the course, `make test` checks all of it.
# Both first set up the machine: Debian/Ubuntu packages (Go and govmomi's
# simulator sources), a virtualenv with the package, and the simulator build.

SHELL := /bin/bash
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
APT_PACKAGES := golang-go golang-github-vmware-govmomi-dev python3-venv openssl
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: lab test setup system venv sim benchmark clean

lab: setup
	$(BIN)/labkit lab

test: setup
	$(BIN)/python -m pytest --nbval

setup: system venv sim

system:
	@missing=$$(for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:" $$missing; \
	  $(SUDO) apt-get update -qq && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $@

sim: venv
	$(BIN)/labkit sim build

benchmark: setup
	$(BIN)/python benchmarks/inventory.py
	$(BIN)/python benchmarks/reset.py
	$(BIN)/python benchmarks/grading.py
	$(BIN)/python benchmarks/precopy.py
	$(BIN)/python benchmarks/compat_matrix.py

clean:
	-$(BIN)/labkit sim stop
	rm -rf $(VENV)
