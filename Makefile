# The two commands a newcomer needs: `make demo` and `make test`. Everything else is detail.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
ALPR := $(PY) -m alpr.cli
STAMP := $(VENV)/.installed

.PHONY: demo test venv kafka-start kafka-stop clean

## Install everything into .venv/ (pinned), once per change of the requirement files.
venv: $(STAMP)

$(STAMP): requirements.txt constraints.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.txt -c constraints.txt
	@# ultralytics pulls opencv-python (GUI build) next to the headless one; both own cv2/.
	@# Keep only the headless build, so no libGL/X11 is needed.
	$(PY) -m pip uninstall -q -y opencv-python
	$(PY) -m pip install -q --force-reinstall --no-deps "opencv-python-headless==$$(grep -i '^opencv-python-headless==' constraints.txt | cut -d= -f3)"
	$(PY) -m pip install -q --no-deps -e .
	touch $(STAMP)

kafka-start: venv
	$(ALPR) kafka start
	$(ALPR) topics apply

kafka-stop: venv
	$(ALPR) kafka stop

## The main job on the embedded defaults (local Kafka, chDB).
demo: kafka-start
	$(ALPR) db migrate
	$(ALPR) demo $(DEMO_ARGS)

## The whole test suite against the real broker and store; stops the broker, keeps pytest's exit code.
test: venv
	$(ALPR) kafka start
	$(ALPR) topics apply
	set +e; $(PY) -m pytest $(PYTEST_ARGS); status=$$?; $(ALPR) kafka stop; exit $$status

clean: kafka-stop
	rm -rf var/
