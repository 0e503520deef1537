# refkit's two commands (see README):
#   make demo   set up, fetch the pinned inputs and compute real SEV-SNP launch measurements
#   make test   set up, then lint, type-check and run the whole test suite
# Both work on a fresh Debian machine with Python 3.11: system tools come from apt-get
# (scripts/system-deps.sh), Python packages from pip at the versions in constraints.txt.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
PY := $(VENV)/bin/python
REFKIT := $(VENV)/bin/refkit
STAMP := $(VENV)/.installed
# Where pinned inputs may already be (a mirror of the pinned Debian packages); anything
# not found there by sha256 is downloaded by package name and version.
INPUTS ?= ../shared/inputs
DEMO_OUT ?= build/demo
PYTEST_ARGS ?=

.PHONY: setup system-deps test lint typecheck pytest demo bench clean

setup: $(STAMP)

system-deps:
	bash scripts/system-deps.sh

$(STAMP): pyproject.toml constraints.txt scripts/system-deps.sh
	bash scripts/system-deps.sh
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[test,lint,sigstore]'
	$(PY) -m compileall -q src/refkit
	touch $(STAMP)

lint: setup
	$(VENV)/bin/ruff format --check src tests bench
	$(VENV)/bin/ruff check src tests bench

typecheck: setup
	$(VENV)/bin/mypy

pytest: setup
	$(PY) -m pytest $(PYTEST_ARGS)

test: lint typecheck pytest

demo: setup
	$(REFKIT) inputs fetch images/demo/inputs.lock.json --inputs $(INPUTS) --out $(DEMO_OUT)
	$(REFKIT) inputs verify images/demo/inputs.lock.json --out $(DEMO_OUT)
	$(REFKIT) measure snp --mode snp --vcpus 1-4,8,16,32,64 --vcpu-type EPYC-Milan \
	  --ovmf $(DEMO_OUT)/OVMF.amdsev.fd --kernel $(DEMO_OUT)/vmlinuz \
	  --append "console=ttyS0 root=/dev/vda ro"
	$(REFKIT) measure snp --mode snp --vcpus 4 --vcpu-type EPYC-Milan --explain \
	  --ovmf $(DEMO_OUT)/OVMF.amdsev.fd --kernel $(DEMO_OUT)/vmlinuz \
	  --append "console=ttyS0 root=/dev/vda ro"

bench: setup
	$(PY) bench/snp_measure.py

clean:
	rm -rf build .pytest_cache .mypy_cache .ruff_cache .hypothesis
