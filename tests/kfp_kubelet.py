"""What the kubelet refuses of a step's container before it starts, reproduced from Kubernetes' source for the
contract run and the image's tests: runAsNonRoot (which KFP 2.17.0's security context sets, kfp_store.RULES)
checked against the image's USER."""

from __future__ import annotations


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
