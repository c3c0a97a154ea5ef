"""What the kubelet refuses of a step's container before it starts, reproduced from Kubernetes' source for the
contract run and the image's tests: runAsNonRoot (which KFP 2.17.0's security context sets, kfp_store.RULES)
checked against the image's USER; and the contract run's pods, started on the container engine (pod_runner)."""

from __future__ import annotations

import contextlib
import os
import threading


class KubeletError(RuntimeError):
    """The kubelet's refusal to create the container (the pod waits in CreateContainerConfigError)."""


def kubelet_run_as_non_root(
    image_user: str, security_context: dict | None, pod: str = "pod", container: str = "main"
) -> None:
    """pkg/kubelet/kuberuntime/security_context_others.go verifyRunAsNonRoot (kubernetes master), for the image's
    USER as the container runtime reports it (containerd and CRI-O getUserFromImage: the part before ':', a number
    is a uid, else a user name) and the kubelet reads it (kuberuntime_container.go getImageUser: neither is root)."""
    context = security_context or {}
    if not context.get("runAsNonRoot"):
        return
    where = f"(pod: {pod!r}, container: {container})"
    if context.get("runAsUser") is not None:
        if context["runAsUser"] == 0:
            raise KubeletError(f"container's runAsUser breaks non-root policy {where}")
        return
    user = image_user.split(":")[0]
    if user and not user.lstrip("-").isdigit():
        raise KubeletError(
            f"container has runAsNonRoot and image has non-numeric user ({user}), cannot verify user "
            f"is non-root {where}"
        )
    uid = int(user) if user else 0
    if uid == 0:
        raise KubeletError(f"container has runAsNonRoot and image will run as root {where}")
    if not 0 <= uid <= 2**31 - 1:  # validation.IsValidUserID
        raise KubeletError(
            f"container has runAsNonRoot and image has an invalid user id ({uid}). (Must be "
            f"1-({2**31 - 1})): must be between 0 and 2147483647, inclusive {where}"
        )


TRAINING = threading.Lock()  # contract runs side by side on 2 cores: one training at a time


def pod_runner(engine):
    """A Backend's run_container on the container engine: a step's pod as the kubelet starts it, with what the
    engine applies of the release's security context, the kubelet's runAsNonRoot check first."""

    def run_container(image, argv, env, mounts, image_user, security):
        training = any(a.startswith("tfx.components.trainer.") for a in argv)  # its executor_class_path
        with TRAINING if training else contextlib.nullcontext():
            return start(image, argv, env, mounts, image_user, security)

    def start(image, argv, env, mounts, image_user, security):
        user = {} if image_user else {"user": f"{os.getuid()}:{os.getgid()}"}  # a pod runs as the image's USER
        if security:
            kubelet_run_as_non_root(engine.images.get(image).attrs["Config"].get("User", ""), security)
            user.update(cap_drop=["ALL"], security_opt=["no-new-privileges"])
        container = engine.containers.run(
            image,
            argv,
            environment=env,
            network_mode="host",
            working_dir="/",
            detach=True,
            shm_size="2g",
            volumes={host: {"bind": target, "mode": "rw"} for host, target in mounts.items()},
            **user,
        )
        try:
            code = container.wait(timeout=900)["StatusCode"]
            return code, container.logs().decode(errors="replace")
        finally:
            container.remove(force=True)

    return run_container
