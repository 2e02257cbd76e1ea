# One command to set up and train, one to set up and test:
#   make train          (sets up .venv, then: wm-agent train --env reacher)
#   make test           (sets up .venv, then: pytest)
# TORCH_SPEC pins the CPU build; on a CUDA machine use e.g. `make setup TORCH_SPEC=torch`.
VENV ?= .venv
PY := $(VENV)/bin/python
TORCH_SPEC ?= torch==2.13.0
ARGS ?= --env reacher
export MUJOCO_GL ?= egl

.PHONY: setup train test bench-planning bench-learning
setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	bash .ci/install-system-deps.sh
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q "$(TORCH_SPEC)" -e ".[test,llm]"
	touch $@

train: setup
	$(VENV)/bin/wm-agent train $(ARGS)

test: setup
	$(PY) -m pytest -q --durations=15

bench-planning: setup
	$(PY) -m pip install -q "$(TORCH_SPEC)" -e ".[bench]"
	$(PY) benchmarks/planning_speed.py

bench-learning: setup
	$(PY) benchmarks/learning.py
