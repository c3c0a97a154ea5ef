"""AtomicPusher: TFX's Pusher (same spec, same blessing rules) with the atomic filesystem executor.

In:  model (Model), model_blessing (ModelBlessing), infra_blessing (InfraBlessing: ServingCheck's),
     push_destination (a filesystem base directory).
Out: pushed_model (PushedModel: pushed, pushed_version, pushed_destination = <base>/<version>/; already_served
     when the model was already served in that version).
"""

from __future__ import annotations

from tfx import v1 as tfx
from tfx.dsl.components.base import executor_spec

from components.pusher import executor


class AtomicPusher(tfx.components.Pusher):
    """Pushes blessed models to `<base>/<version>/` through a staging folder (see executor.py)."""

    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(executor.Executor)
