# The two commands a newcomer needs: `make demo` and `make test`. Everything else is detail.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
ALPR := $(PY) -m alpr_app.cli
STAMP := $(VENV)/.installed
# Nothing of ours goes to the home directory: pip runs `rustc --version` for its user agent,
# and where rustc is a rustup proxy that writes ~/.rustup/settings.toml. Point rustup at the
# project's data directory for what make runs (the user's own RUSTUP_HOME is kept).
export RUSTUP_HOME ?= $(CURDIR)/var/lib/rustup

.PHONY: demo test lint venv kafka-start kafka-stop clean chromium

## Install everything into .venv/ (pinned), once per change of the requirement files.
venv: $(STAMP)

$(STAMP): requirements.txt requirements-dev.txt constraints.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --no-cache-dir --upgrade pip
	$(PY) -m pip install -q --no-cache-dir -r requirements-dev.txt -c constraints.txt
	@# ultralytics pulls opencv-python (GUI build) next to the headless one; both own cv2/.
	@# Keep only the headless build, so no libGL/X11 is needed.
	$(PY) -m pip uninstall -q -y opencv-python
	$(PY) -m pip install -q --no-cache-dir --force-reinstall --no-deps "opencv-python-headless==$$(grep -i '^opencv-python-headless==' constraints.txt | cut -d= -f3)"
	$(PY) -m pip install -q --no-cache-dir --no-deps -e .
	touch $(STAMP)

kafka-start: venv
	$(ALPR) kafka start
	$(ALPR) topics apply

kafka-stop: venv
	$(ALPR) kafka stop

## The main job on the embedded defaults (chDB), on the secure local broker (TLS, SCRAM, per-service ACLs).
demo: venv
	$(ALPR) kafka start --secure
	$(ALPR) db migrate
	$(ALPR) demo --secure $(DEMO_ARGS)

## Headless Chromium for the console's browser test (Debian package, system-wide; root or password-less sudo, never a prompt).
## Where it cannot be installed the console's browser test is skipped, except with CI=true, where it fails saying why.
chromium:
	@bash infra/install-chromium.sh || echo "warning: chromium could not be installed; the console's browser test will be skipped (CI=true: it fails)"

## The whole test suite against the real brokers and store; stops them, keeps pytest's exit code.
## The suite runs on the secure broker (SASL_SSL, SCRAM) as its administrator: every client a test
## makes and every service it starts authenticates; the development broker (plaintext) serves the
## few tests about it. Tests about per-service ACLs start secure brokers of their own.
SECURE_ENV := var/kafka-secure/secrets/admin.env
test: venv chromium
	$(ALPR) kafka start
	$(ALPR) kafka start --secure
	@set -a; . $(SECURE_ENV); set +a; $(ALPR) topics apply
	@mkdir -p var
	@# Stop the brokers whatever pytest says, keep pytest's exit code (5 = no tests fails too),
	@# and end the output with pytest's summary line (client libraries may log after it).
	@set +e; set -a; . $(SECURE_ENV); set +a; \
	$(PY) -m pytest $(PYTEST_ARGS) 2>&1 | tee var/pytest.log; status=$${PIPESTATUS[0]}; \
	$(ALPR) kafka stop --secure >/dev/null 2>&1; \
	env -u ALPR_KAFKA_BOOTSTRAP $(ALPR) kafka stop >/dev/null 2>&1; \
	grep -E '^=+ .*[0-9]+ (passed|failed|error|errors|skipped|deselected|no tests ran).* in [0-9.]+s.* =+$$' var/pytest.log | tail -1; \
	exit $$status

## Quality gates (.ci/run runs them before the tests): ruff lint and format check, mypy on the kernel (alpr/).
lint: venv
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy

clean: kafka-stop
	rm -rf var/
