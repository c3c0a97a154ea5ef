# The project's commands; each runs inside the project image (scripts/container).
CONTAINER := scripts/container
DATASET ?= outputs/sample-dataset
PIPELINE_ROOT ?= outputs/pipeline
PYTEST_ARGS ?=

.PHONY: run test image shell lock

run:  ## the local pipeline on the bundled sample dataset
	$(CONTAINER) maskrcnn-tfx demo --dataset $(DATASET) --pipeline-root $(PIPELINE_ROOT)

test:  ## the whole test suite
	$(CONTAINER) python -m pytest tests $(PYTEST_ARGS)

image:  ## build the image (if the Dockerfile or the locks changed) and print its tag
	$(CONTAINER) --image

shell:
	$(CONTAINER) bash

lock:  ## regenerate requirements/*.lock from requirements/*.in
	scripts/lock.sh
