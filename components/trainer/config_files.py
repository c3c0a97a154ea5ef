"""The shipped training configs as files: found by name and read on top of their `base:` config, without
TensorFlow (the command line reads them before TensorFlow loads)."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import yaml

from components.util.blessing import BlessingConfig
from components.util.package_data import package_file

CONFIG_DIR = package_file("trainer", "configs")
BASE_KEY = "base"  # a config may start from another of CONFIG_DIR and change what it lists
_PRECISION_OVERRIDE = re.compile(r"(?:^|,)\s*runtime\.mixed_precision_dtype\s*=\s*['\"]?(\w+)")


def config_path(name_or_path: str) -> Path:
    """`cpu-demo` -> components/trainer/configs/cpu-demo.yaml; a path is taken as it is."""
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml"):
        return path
    path = CONFIG_DIR / f"{name_or_path}.yaml"
    if not path.exists():
        raise ValueError(f"unknown training config {name_or_path!r}; known: {', '.join(shipped_configs())}")
    return path


def shipped_configs() -> list[str]:
    return sorted(p.stem for p in CONFIG_DIR.glob("*.yaml"))


def _merged(base: dict, changes: dict) -> dict:
    merged = dict(base)
    for key, value in changes.items():
        merged[key] = (
            _merged(base[key], value) if isinstance(value, dict) and isinstance(base.get(key), dict) else value
        )
    return merged


def load_config(config: str) -> dict:
    """A config's YAML, on top of its `base:` config's (recursively)."""
    data = yaml.safe_load(config_path(config).read_text()) or {}
    base = data.pop(BASE_KEY, None)
    return _merged(load_config(base), data) if base else data


def precision(config: str, overrides: list[str]) -> str:
    """The compute precision the config and its `--set` overrides ask for (float32 when none is named)."""
    dtype = (load_config(config).get("runtime") or {}).get("mixed_precision_dtype")
    for override in overrides:
        dtype = next((m.group(1) for m in _PRECISION_OVERRIDE.finditer(override)), dtype)
    return dtype or "float32"


@dataclasses.dataclass(frozen=True)
class OwnKeys:
    """The keys of a training config's YAML that are this project's, beside Model Garden's ExperimentConfig."""

    experiment: str  # the Model Garden experiment the YAML overrides (exp_factory's name)
    scale_with_replicas: bool = False  # global batch and learning rates times the replica count
    blessing: BlessingConfig = BlessingConfig()  # what the evaluator blesses on
    eval_interval: int = 0  # steps between evaluations while training; 0: none

    @classmethod
    def pop_from(cls, overrides: dict, config: str) -> OwnKeys:
        """Takes the project's keys out of a config's YAML (what is left is Model Garden's), checked."""
        own = {field.name: overrides.pop(field.name) for field in dataclasses.fields(cls) if field.name in overrides}
        if not own.get("experiment"):
            raise ValueError(f"{config_path(config)}: missing 'experiment: <Model Garden experiment name>'")
        blessing = BlessingConfig.from_section(own.get("blessing"), str(config_path(config)))
        return cls(
            own["experiment"], bool(own.get("scale_with_replicas")), blessing, int(own.get("eval_interval") or 0)
        )


def own_keys(config: str) -> OwnKeys:
    """A training config's own keys (blessing rules, evaluation interval, replica scaling), without TensorFlow."""
    return OwnKeys.pop_from(load_config(config), config)
