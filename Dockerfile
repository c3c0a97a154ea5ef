# maskrcnn-tfx runtime image: Debian 13 (glibc 2.41, Python 3.13) with the locked
# TFX / TensorFlow / Model Garden stack and the project installed.
#   docker build -t maskrcnn-tfx .                          # CPU
#   docker build --build-arg VARIANT=gpu -t maskrcnn-tfx:gpu .  # CUDA wheels of TensorFlow
ARG BASE_IMAGE=docker.io/library/debian:trixie-slim

FROM ${BASE_IMAGE} AS builder
ARG VARIANT=cpu
ENV DEBIAN_FRONTEND=noninteractive
# g++ and python3-dev: pyfarmhash (a TFDV dependency) ships only as source.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 python3-venv python3-dev g++ ca-certificates \
 && rm -rf /var/lib/apt/lists/*
# Extra CA certificates (*.crt) placed in docker/certs/ are trusted while installing.
COPY docker/certs/ /usr/local/share/ca-certificates/extra/
RUN update-ca-certificates
ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt \
    PIP_CERT=/etc/ssl/certs/ca-certificates.crt \
    UV_PYTHON_DOWNLOADS=never \
    UV_LINK_MODE=copy
RUN python3 -m venv /opt/uv && /opt/uv/bin/pip install --no-cache-dir uv==0.13.9
# The variant's own lock and overrides only: a change of another lock (the other variant's, dev.lock) leaves this
# layer and the install below cached.
COPY requirements/${VARIANT}.lock requirements/overrides-${VARIANT}.txt /tmp/requirements/
# --compile-bytecode: uv writes no .pyc by default, and a container (each Kubeflow step, each test's) would
# compile TensorFlow, TFX and Model Garden from source at every start (benchmarks/RESULTS.md, the test suite).
RUN /opt/uv/bin/uv venv --python /usr/bin/python3 /opt/venv \
 && VIRTUAL_ENV=/opt/venv /opt/uv/bin/uv pip install --no-cache --compile-bytecode \
      -r /tmp/requirements/${VARIANT}.lock --overrides /tmp/requirements/overrides-${VARIANT}.txt

# The development tools (requirements/dev.lock: ruff, which `make lint` and so `make test` run) in a venv of their
# own, built apart from the stack: a change of them rebuilds only this stage and the image's last layers.
FROM builder AS tools
COPY requirements/dev.lock /tmp/requirements/dev.lock
RUN /opt/uv/bin/uv venv --python /usr/bin/python3 /opt/tools \
 && VIRTUAL_ENV=/opt/tools /opt/uv/bin/uv pip install --no-cache -r /tmp/requirements/dev.lock

FROM ${BASE_IMAGE}
ENV DEBIAN_FRONTEND=noninteractive
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 ca-certificates \
 && rm -rf /var/lib/apt/lists/*
COPY --from=builder /opt/venv /opt/venv
COPY --from=builder /opt/uv/bin/uv /usr/local/bin/uv
ENV PATH=/opt/venv/bin:$PATH:/opt/tools/bin \
    VIRTUAL_ENV=/opt/venv \
    PYTHONUNBUFFERED=1 \
    TF_CPP_MIN_LOG_LEVEL=2 \
    HOME=/home/app
# /gcs, /minio, /s3: where KFP's launcher stages artifacts. From KFP 2.3.0 a step's pod mounts emptyDirs there;
# at 2.2.0 (Kubeflow 1.9.0) it has none and the launcher makes them as this image's user, which may not write
# in / (kubeflow/pipelines#10538; argocompiler/container.go at 2.2.0; tests/test_kfp_backend.py).
# Any user may run it: OpenShift gives a pod an arbitrary UID in group 0, so what a step writes (HOME and those
# folders) belongs to group 0 with the owner's rights (chgrp 0, chmod g=u), and writable by all as before.
RUN useradd --create-home --uid 1000 --gid 0 app \
 && mkdir /gcs /minio /s3 \
 && chgrp -R 0 /home/app /gcs /minio /s3 && chmod -R g=u /home/app /gcs /minio /s3 \
 && chmod 1777 /home/app /gcs /minio /s3
COPY --from=tools /opt/tools /opt/tools
# The project last: a source change rebuilds only these layers (seconds, not the dependency install).
# Installed as a package (setup.py's PACKAGES; configs and the curated schema are package data); no source
# tree stays behind, so the image runs exactly what a cluster runs. .dockerignore keeps the rest out.
COPY . /tmp/maskrcnn-tfx/
RUN uv pip install --no-deps --no-build-isolation --no-cache --compile-bytecode /tmp/maskrcnn-tfx \
 && rm -rf /tmp/maskrcnn-tfx
# Numeric: with runAsNonRoot the kubelet refuses an image whose user is a name (it cannot tell it is not root:
# kubernetes pkg/kubelet/kuberuntime/security_context_others.go verifyRunAsNonRoot; tests/kfp_kubelet.py).
USER 1000
WORKDIR /home/app
CMD ["maskrcnn-tfx", "--help"]
