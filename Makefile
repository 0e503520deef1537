# refkit's two commands (see README):
#   make demo   set up, fetch the pinned inputs and compute real SEV-SNP and TDX launch measurements
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
DEMO_BOOT = --ovmf $(DEMO_OUT)/OVMF.amdsev.fd --kernel $(DEMO_OUT)/vmlinuz \
	--append "console=ttyS0 root=/dev/vda ro"
# TDX direct kernel boot: RTMR1/RTMR2 of the same kernel; the shape is recorded (RTMR0
# needs captured platform data, which the demo does not have).
DEMO_TDX_BOOT = --kernel $(DEMO_OUT)/vmlinuz --append "console=ttyS0 root=/dev/vda ro" \
	--vcpus 4 --vmm qemu
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
	$(REFKIT) measure snp --mode snp --vcpus 4 --vcpu-type EPYC-Milan --explain $(DEMO_BOOT)
	$(REFKIT) measure snp --mode snp --vcpus 1-4,8,16,32,64 --vcpu-type EPYC-Milan $(DEMO_BOOT) \
	  --json -o $(DEMO_OUT)/snp.json --force
	$(REFKIT) measure tdx --firmware $(DEMO_OUT)/OVMF.inteltdx.ms.fd $(DEMO_TDX_BOOT)
	$(REFKIT) measure tdx --firmware $(DEMO_OUT)/OVMF.inteltdx.ms.fd $(DEMO_TDX_BOOT) \
	  --json > $(DEMO_OUT)/tdx.json.tmp && mv $(DEMO_OUT)/tdx.json.tmp $(DEMO_OUT)/tdx.json
	epoch=$$(git log -1 --format=%ct 2>/dev/null || echo 0); \
	sed -e "s/@COMMIT@/$$(git rev-parse HEAD 2>/dev/null || printf '%040d' 0)/" \
	  -e "s/@EXPIRES@/$$(date -u -d @$$((epoch + 180 * 86400)) +%Y-%m-%dT%H:%M:%SZ)/" \
	  images/demo/release.yaml.in > $(DEMO_OUT)/release.yaml; \
	SOURCE_DATE_EPOCH=$$epoch $(REFKIT) manifest build \
	  $(DEMO_OUT)/release.yaml --add-snp $(DEMO_OUT)/snp.json -o $(DEMO_OUT)/release.json --force; \
	SOURCE_DATE_EPOCH=$$epoch $(REFKIT) manifest build $(DEMO_OUT)/release.yaml \
	  --add $(DEMO_OUT)/snp.json --add $(DEMO_OUT)/tdx.json -o $(DEMO_OUT)/release-tdx.json --force
	$(REFKIT) keygen --out $(DEMO_OUT)/demo.key --force
	$(REFKIT) manifest sign $(DEMO_OUT)/release.json --key $(DEMO_OUT)/demo.key \
	  -o $(DEMO_OUT)/release.bundle.json --force
	$(REFKIT) manifest verify $(DEMO_OUT)/release.bundle.json --key $(DEMO_OUT)/demo.key.pub
	$(REFKIT) manifest show $(DEMO_OUT)/release.bundle.json
	for f in contrast rvps rvps-values; do \
	  $(REFKIT) manifest export $(DEMO_OUT)/release.bundle.json --format $$f \
	    -o $(DEMO_OUT)/export.$$f.json --force || exit $$?; done
	$(REFKIT) manifest export $(DEMO_OUT)/release.bundle.json --format vsa \
	  --verifier-id https://github.com/refkit/refkit/demo --result PASSED \
	  --time-verified $$(date -u -d @$$(git log -1 --format=%ct 2>/dev/null || echo 0) +%Y-%m-%dT%H:%M:%SZ) \
	  --resource-uri file://$(DEMO_OUT)/release.json --policy-uri file://$(DEMO_OUT)/demo.key.pub \
	  -o $(DEMO_OUT)/export.vsa.json --force
	@echo "demo: every step passed; outputs in $(DEMO_OUT)/"

bench: setup
	test -e ../shared/vectors/firmware/OVMF.amdsev.fd || test -e $(DEMO_OUT)/vmlinuz || $(MAKE) demo
	$(PY) bench/snp_measure.py

clean:
	rm -rf build .pytest_cache .mypy_cache .ruff_cache .hypothesis
