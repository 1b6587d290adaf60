# hilbench: two commands do everything on a fresh Debian 12 machine (as root):
#   make demo   install, build the firmware, bring the lab up, run the suites, report, tear down
#   make test   install, build the firmware, run every test (unit and lab)
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
HB     := $(VENV)/bin/hilbench
STAMP  := $(VENV)/.installed

.PHONY: setup firmware test lint libdoc demo lab-up lab-down clean

setup: $(STAMP)

$(STAMP): pyproject.toml scripts/install-deps.sh
	bash scripts/install-deps.sh
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	touch $(STAMP)

firmware: setup
	@if [ -f sim/mps2_lwip/Makefile ]; then $(MAKE) -C sim/mps2_lwip; \
	else echo "firmware: no board firmware in this checkout"; fi

lint: setup
	$(VENV)/bin/ruff check .
	@if ls robot_suites/*.robot >/dev/null 2>&1; then $(VENV)/bin/robocop check robot_suites; fi

# The keyword documentation lab engineers read (docs/TcpBench.html, committed).
libdoc: setup
	$(PY) -m robot.libdoc --name TcpBench bench.robot.library.TcpBench docs/TcpBench.html
	$(PY) -m robot.libdoc robot_suites/resources/dut.resource docs/dut-resource.html

test: setup firmware lint
	$(VENV)/bin/pytest -q tests

demo: setup firmware
	$(PY) -m bench.demo

lab-up: setup
	$(HB) lab up

lab-down: setup
	$(HB) lab down

clean:
	rm -rf build results .pytest_cache .ruff_cache
	@if [ -f sim/mps2_lwip/Makefile ]; then $(MAKE) -C sim/mps2_lwip clean; fi
