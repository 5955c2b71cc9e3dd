# `make demo` runs the offline quickstart; `make test` runs the tests. Both create .venv first.
PYTHON ?= python3
VENV ?= .venv
BIN = $(VENV)/bin
PIP = $(BIN)/python -m pip
PACKAGES = -e '.[train,dev]' -e plugins/torch -e 'plugins/onnx[export]'

.PHONY: install demo test test-all clean

$(BIN)/.installed: pyproject.toml plugins/*/pyproject.toml constraints.txt
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

clean:
	rm -rf runs $(VENV)
