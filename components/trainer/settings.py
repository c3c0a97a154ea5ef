"""What the pipeline passes to the Trainer in `custom_config`, with its defaults."""

from __future__ import annotations

import dataclasses

from components.util.serving_contract import DEFAULT_MAX_DETECTIONS, DEFAULT_MIN_SCORE

DEFAULT_CONFIG = "cpu-demo"  # a training config of components/trainer/configs/


@dataclasses.dataclass
class TrainingSettings:
    """What the pipeline passes to the Trainer in `custom_config`."""

    config: str = DEFAULT_CONFIG
    batch_size: int | None = None
    params_override: list[str] = dataclasses.field(default_factory=list)
    init_checkpoint: str | None = None  # a pretrained checkpoint (or a folder: its latest), local or gs://
    init_modules: str | None = None  # all | backbone | decoder | backbone,decoder; None: the config's
    eval_interval: int | None = None  # evaluate every N steps while training; None: the config's, 0: never
    stop_at: dict[str, float] = dataclasses.field(default_factory=dict)  # end at the first evaluation meeting all
    serving_max_detections: int = DEFAULT_MAX_DETECTIONS  # the exported answer's cap (serving_contract.py)
    serving_min_score: float = DEFAULT_MIN_SCORE  # and its lowest score

    @classmethod
    def from_custom_config(cls, custom_config: dict | None) -> TrainingSettings:
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in (custom_config or {}).items() if k in known})
