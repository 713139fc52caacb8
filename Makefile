# Two commands on a fresh machine: `make chat` (set up, train the default model once, chat)
# and `make test` (set up, run the tests). Everything else is optional.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# CPU build of PyTorch; for a GPU machine see README ("Training on a GPU").
TORCH ?= torch==2.13.0
SIZE ?= shipped

.PHONY: chat test setup bench eval train serve clean

chat: setup
	$(BIN)/rarereads chat

test: setup
	$(BIN)/python -m pytest -q

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q "$(TORCH)"
	$(BIN)/python -m pip install -q -e ".[train,discord,telegram,postgres,dev]"
	touch $@

train: setup
	$(BIN)/rarereads train

eval: setup
	$(BIN)/rarereads eval

serve: setup
	$(BIN)/rarereads serve

bench: setup
	$(BIN)/rarereads bench --size $(SIZE)

clean:
	rm -rf $(VENV) models var
