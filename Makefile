# The project's commands; each runs inside the project image (scripts/container).
CONTAINER := scripts/container
SAMPLE_DATASET := outputs/sample-dataset
DATASET ?= $(SAMPLE_DATASET)
PIPELINE_ROOT ?= outputs/pipeline
PYTEST_ARGS ?=
RUN_ARGS ?=
# Test folders live on the host (one per checkout): the containers kfp.local starts for a step mount them.
TEST_TMP ?= /tmp/maskrcnn-tfx-tests-$(shell pwd | sha256sum | cut -c1-8)

.PHONY: run lint test test-quick image shell lock

run:  ## the local pipeline on DATASET (default: the sample, generated once; another path must exist)
	test "$(DATASET)" != "$(SAMPLE_DATASET)" || test -d $(DATASET) || \
		$(CONTAINER) maskrcnn-tfx sample-data --output $(DATASET)
	$(CONTAINER) maskrcnn-tfx run --dataset $(DATASET) --pipeline-root $(PIPELINE_ROOT) $(RUN_ARGS)

lint:  ## ruff's lint and format check of the whole tree (pyproject.toml), in the image; `make test` runs it first
	$(CONTAINER) ruff check . && $(CONTAINER) ruff format --check .

test: lint  ## the whole test suite (with the engine's API for the tests that start the image's containers)
	MASKRCNN_TFX_ENGINE=1 $(CONTAINER) python -m pytest tests --basetemp=$(TEST_TMP) $(PYTEST_ARGS)

test-quick: lint  ## the edit-loop tier: the suite without the tests marked slow (whole pipelines, containers, dry runs)
	$(CONTAINER) python -m pytest tests -m "not slow" --basetemp=$(TEST_TMP)-quick $(PYTEST_ARGS)

image:  ## build the image (if the Dockerfile or the locks changed) and print its tag
	$(CONTAINER) --image

shell:
	$(CONTAINER) bash

lock:  ## regenerate requirements/*.lock from requirements/*.in (cpu, gpu and dev: ruff)
	scripts/lock.sh
