# vMotion Labs: `make lab` opens the course, `make test` checks all of it.
# Both first set up the machine: Debian/Ubuntu packages (Go and govmomi's
# simulator sources; QEMU, busybox-static and gcc for the real-migration lab),
# a virtualenv with the package (installed by uv within constraints.txt), the simulator build and the lab guest.

SHELL := /bin/bash
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin

.PHONY: lab test setup system venv sim guest benchmark clean constraints

lab: setup
	$(BIN)/labkit lab

# One test worker per logical CPU (two on the machines the course is checked on; a third only made each test
# slower, as the suite is CPU-bound). A notebook's cells stay together, in order, on one worker; the longest
# files start first (conftest.py). Each cell has the grader's 60 s limit. The 15 slowest tests are printed. The
# course's own modules are compiled first, for the reason given at the venv target.
test: setup
	$(BIN)/python -m compileall -q labkit tests conftest.py
	$(BIN)/python -m pytest --nbval -n logical --dist loadfile --no-loadscope-reorder --durations=15

# The simulator's build (Go, both cores on a cold cache) and the lab guest's (a kernel download and a test boot)
# run side by side.
setup: system venv
	@$(MAKE) --no-print-directory -j2 sim guest

system:
	@bash scripts/system-packages.sh

venv: $(VENV)/.installed

# uv --compile-bytecode writes Python's compiled modules once, here. Where PYTHONDONTWRITEBYTECODE is set (as on the
# machines the course is checked on), no process writes them later, and each would compile every module it imports.
# The ansible distribution (the dev extra's collections, about 16,000 files) goes in first and uncompiled: Ansible
# runs a module from a zip it builds, so none of its compiled files would ever be read. uv compiles only what one
# call installs, so the second call compiles everything else, ansible-core's controller included.
$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q -c constraints.txt uv   # installs the pinned set in seconds, where pip takes a minute
	$(BIN)/python -m uv pip install -q --system-certs --no-deps --python $(BIN)/python -c constraints.txt ansible
	$(BIN)/python -m uv pip install -q --system-certs --compile-bytecode --python $(BIN)/python -c constraints.txt -e '.[dev]'
	touch $@

# Pin the Python packages anew: the newest releases that pyproject.toml allows, in a fresh environment. Run it
# with the oldest Python the course supports, Debian 12's (make constraints PYTHON=/usr/bin/python3, 3.11.2):
# some releases need a newer 3.11 (soupsieve 4 wants 3.11.5).
constraints:
	rm -rf .venv-constraints
	$(PYTHON) -m venv .venv-constraints
	.venv-constraints/bin/python -m pip install -q -e '.[dev]'
	{ sed -n '1,3p' constraints.txt; .venv-constraints/bin/python -m pip freeze --exclude-editable; } > constraints.new
	mv constraints.new constraints.txt
	rm -rf .venv-constraints

sim: venv
	$(BIN)/labkit sim build

guest: venv
	$(BIN)/labkit qemu build

benchmark: setup
	$(BIN)/python benchmarks/inventory.py
	$(BIN)/python benchmarks/reset.py
	$(BIN)/python benchmarks/world_start.py
	$(BIN)/python benchmarks/task_wait.py
	$(BIN)/python benchmarks/grading.py
	$(BIN)/python benchmarks/precopy.py
	$(BIN)/python benchmarks/compat_matrix.py
	$(BIN)/python benchmarks/real_precopy.py
	$(BIN)/python benchmarks/scenario_limits.py
	$(BIN)/python benchmarks/audit.py
	$(BIN)/python benchmarks/concurrent_migrations.py

clean:
	-$(BIN)/labkit sim stop
	rm -rf $(VENV)
