# `make demo` runs the offline quickstart; `make test` runs the tests; `make lint` runs ruff and mypy. All create .venv first.
PYTHON ?= python3
VENV ?= .venv
BIN = $(VENV)/bin
PIP = $(BIN)/python -m pip
PACKAGES = -e runtime -e '.[train,dev,report]' -e plugins/torch -e 'plugins/onnx[export]' -e 'plugins/openvino[export]' \
	-e plugins/cuda -e examples/edgeptm-numpy
# torch-xla pins torch to its own minor version, so the xla backend gets its own environment:
# the project's constraints with torch swapped for this pair (a ~4 GB download, once).
VENV_XLA ?= .venv-xla
XLA_TORCH ?= 2.9.0

.PHONY: install demo test lint test-all test-xla test-arm64 clean
LINT_PATHS = edgeptm plugins examples tests scripts conftest.py

$(BIN)/.installed: pyproject.toml plugins/*/pyproject.toml examples/*/pyproject.toml runtime/pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -c constraints.txt torch==2.13.0
	$(PIP) install -q -c constraints.txt $(PACKAGES)
	touch $@

install: $(BIN)/.installed

demo: install
	$(BIN)/edgeptm run recipes/quickstart.yaml

test: install
	$(BIN)/pytest -q
	cd runtime && ../$(BIN)/pytest -q

# ruff (lint + format check) and mypy, configured in pyproject.toml.
lint: install
	$(BIN)/ruff check $(LINT_PATHS)
	$(BIN)/ruff format --check $(LINT_PATHS)
	$(BIN)/mypy

$(VENV_XLA)/bin/.installed: pyproject.toml runtime/pyproject.toml plugins/torch/pyproject.toml plugins/xla/pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV_XLA)
	grep -v '^torch==' constraints.txt > $(VENV_XLA)/constraints.txt
	printf 'torch==$(XLA_TORCH)\ntorch-xla==$(XLA_TORCH)\n' >> $(VENV_XLA)/constraints.txt
	$(VENV_XLA)/bin/python -m pip install -q -c $(VENV_XLA)/constraints.txt torch==$(XLA_TORCH) torch-xla==$(XLA_TORCH) \
		-e runtime -e '.[train,dev]' -e plugins/torch -e plugins/xla
	touch $@

# The conformance kit and a fine-tuning smoke test on the XLA CPU device (PJRT_DEVICE=TPU on a TPU VM).
test-xla: $(VENV_XLA)/bin/.installed
	PJRT_DEVICE=$${PJRT_DEVICE:-CPU} EDGEPTM_REQUIRE_XLA=1 $(VENV_XLA)/bin/pytest -q plugins/xla/tests/test_xla.py

ARM64_BUNDLE ?= runs/quickstart/bundles/quickstart-onnx-int8.tar.gz
# edgeptm-runtime and the quickstart bundle on emulated aarch64 (qemu user mode, Debian's arm64 CPython,
# PyPI's aarch64 wheels); labels compared with this machine's. Cache in .arm64 (~350 MB, ~1 min the first time).
test-arm64: install
	@test -e $(ARM64_BUNDLE) || $(MAKE) demo
	HOST_PYTHON=$(BIN)/python bash scripts/test-arm64.sh $(ARM64_BUNDLE)

clean:
	rm -rf runs $(VENV) $(VENV_XLA) .arm64
