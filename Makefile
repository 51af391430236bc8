# Two commands do everything on a fresh machine: `make demo` and `make test`.
# Lambda runs python3.13: the venv uses it where it exists (on PATH, or under pyenv even when pyenv's global
# version is another one, whose shim would refuse), else python3. `make PYTHON=python3.11 ...` overrides.
PY313 := $(firstword $(foreach p,python3.13 $(wildcard $(HOME)/.pyenv/versions/3.13*/bin/python3.13),\
	$(shell $(p) -c "import sys; assert sys.version_info[:2] == (3, 13)" >/dev/null 2>&1 && echo $(p))))
PYTHON ?= $(or $(PY313),python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: venv deploy-venv test demo serve package deploy bench lint typecheck fuzz soak faults mutate clean

# pip stays below 26.3: chalice 1.34 declares pip<26.3 and would otherwise downgrade it during the install.
$(STAMP): requirements.txt requirements-dev.txt
	@# A venv of another interpreter is rebuilt, not upgraded in place.
	@if [ -x $(PY) ] && [ "$$($(PY) -c 'import sys; print(sys.version_info[:2])')" != \
		"$$($(PYTHON) -c 'import sys; print(sys.version_info[:2])')" ]; then echo "rebuilding $(VENV) for $(PYTHON)"; rm -rf $(VENV); fi
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check --upgrade "pip<26.3" 2>&1 | grep -v "^WARNING: Location" || true
	$(PY) -m pip install -q --disable-pip-version-check -r requirements-dev.txt 2>&1 | grep -v "^WARNING: Location" || true
	$(PY) -c "import chalice, pynamodb, moto, aws_lambda_powertools, hypothesis, cfnlint, schemathesis, mutmut"
	touch $(STAMP)

venv: $(STAMP)

# The deploy tools' own venv (requirements-deploy.txt says why it is apart).
DEPLOY_VENV := .venv-deploy
DEPLOY_STAMP := $(DEPLOY_VENV)/.installed
$(DEPLOY_STAMP): requirements-deploy.txt
	rm -rf $(DEPLOY_VENV)
	$(PYTHON) -m venv $(DEPLOY_VENV)
	$(DEPLOY_VENV)/bin/python -m pip install -q --disable-pip-version-check -r requirements-deploy.txt 2>&1 | grep -v "^WARNING: Location" || true
	$(DEPLOY_VENV)/bin/python -c "import samtranslator"
	touch $(DEPLOY_STAMP)

deploy-venv: $(DEPLOY_STAMP)

test: $(STAMP) $(DEPLOY_STAMP)
	$(PY) -m ruff check .
	$(PY) -m mypy chalicelib app.py infra devtools
	$(PY) -m pytest -q -p no:cacheprovider -n 2 tests
	$(PY) -m infra.mutation --sample $(MUTATION_SAMPLE)

demo: $(STAMP)
	$(PY) -m infra.local.demo

serve: $(STAMP)
	$(PY) -m infra.local.serve

package: $(STAMP) $(DEPLOY_STAMP)
	$(PY) -m infra.package

# `make deploy STAGE=prod BUCKET=my-artifacts ALARM_TOPIC=arn:aws:sns:...` (README, Deploying to AWS): the package,
# then one CloudFormation change set through the project's boto3, with your AWS credentials and region.
# DEPLOY_ARGS passes more (e.g. --no-execute, --region eu-west-1, --parameter LogRetentionDays=90).
STAGE ?=
BUCKET ?=
ALARM_TOPIC ?=
deploy: package
	@test -n "$(STAGE)" -a -n "$(BUCKET)" -a -n "$(ALARM_TOPIC)" || \
		{ echo "usage: make deploy STAGE=<stage> BUCKET=<s3 bucket> ALARM_TOPIC=<sns topic arn> [DEPLOY_ARGS=...]"; exit 2; }
	$(PY) -m infra.deploy --stage $(STAGE) --bucket $(BUCKET) --alarm-topic $(ALARM_TOPIC) $(DEPLOY_ARGS)

bench: $(STAMP)
	$(PY) -m bench.run

# 20 % of DynamoDB/SQS calls fail (FAULT_RATE, FAULT_STICKY, FAULT_SEED, FAULT_RECIPIENTS, FAULT_ORDERS).
faults: $(STAMP)
	$(PY) -m bench.faults

# The local stack under load for SOAK_SECONDS (default 60), then ledger, counters and reports must agree.
soak: $(STAMP)
	$(PY) -m infra.local.soak

# Schemathesis, the rule and the ingestion generators with FUZZ_SCALE times the examples of `make test`, and the
# unit property tests (random seeds each run; `make test` runs them all derandomized).
FUZZ_SCALE ?= 5
fuzz: $(STAMP)
	MKT_FUZZ_SCALE=$(FUZZ_SCALE) MKT_HYPOTHESIS_PROFILE=fuzz $(PY) -m pytest -q -s -p no:cacheprovider \
		tests/hardening/test_fuzz_api.py tests/hardening/test_rule_fuzz.py tests/hardening/test_ingest_fuzz.py tests/unit

# Mutation testing of the pure domain (infra/mutation.py): every mutant, module by module, against tests/unit/.
# `make test` runs a fixed sample of MUTATION_SAMPLE mutants per module and fails below a 90 % kill rate.
# MUTATE_ARGS="--module chalicelib/reports/stats.py" for one module, "--rerun" to retry only the survivors.
MUTATION_SAMPLE ?= 10
mutate: $(STAMP)
	$(PY) -m infra.mutation --work build/mutation $(MUTATE_ARGS)

lint: $(STAMP)
	$(PY) -m ruff check .

typecheck: $(STAMP)
	$(PY) -m mypy chalicelib app.py infra devtools

clean:
	rm -rf $(VENV) $(DEPLOY_VENV) build .pytest_cache .mypy_cache .ruff_cache .hypothesis
