"""The code's shape: every package folder is a package, imports point down the layers and make no cycle
(imports inside functions count), dataset/ has no TFX, no product module uses the sample package, no module over
300 lines."""

from __future__ import annotations

import ast
from pathlib import Path

from pipeline import cli

REPO = Path(__file__).resolve().parents[1]
PACKAGES = next(
    ast.literal_eval(node.value)
    for node in ast.parse((REPO / "setup.py").read_text()).body
    if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "PACKAGES"
)
MAX_LINES = 300


def _modules() -> dict[str, Path]:
    modules = {}
    for package in PACKAGES:
        for path in (REPO / package).rglob("*.py"):
            name = ".".join(path.relative_to(REPO).with_suffix("").parts)
            modules[name.removesuffix(".__init__")] = path
    return modules


def _imports(path: Path, modules: dict[str, Path]) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        else:
            continue
        found |= {name for name in names if name in modules}
    return found


def _cycle(graph: dict[str, set[str]]) -> list[str]:
    """One import cycle, as the list of its modules, or []."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(module: str) -> list[str]:
        state[module] = 1
        path.append(module)
        for imported in sorted(graph[module]):
            if state.get(imported) == 1:
                return [*path[path.index(imported) :], imported]
            if imported not in state and (cycle := visit(imported)):
                return cycle
        state[module] = 2
        path.pop()
        return []

    for module in sorted(graph):
        if module not in state and (cycle := visit(module)):
            return cycle
    return []


def test_every_folder_of_python_files_is_a_package():
    folders = {p.parent for package in PACKAGES for p in (REPO / package).rglob("*.py")}
    assert not [str(f.relative_to(REPO)) for f in folders if not (f / "__init__.py").exists()]


def test_no_import_cycle():
    modules = _modules()
    graph = {name: _imports(path, modules) - {name} for name, path in modules.items()}
    assert _cycle(graph) == []
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == ["a", "b", "c", "a"]  # the check works


# Lowest first: a module imports its own part or lower layers. Each component (components.<name>) is a part of
# its own: components import components.util, never one another. storage (file access) is below them all.
LAYERS = ("storage", "dataset", "sample_data", "components.util", "components.*", "pipeline", "kubeflow")


def _part(module: str) -> tuple[int, str]:
    """(layer, part) of a module: (2, 'components.trainer') for components.trainer.experiment."""
    parts = module.split(".")
    if parts[0] == "components" and len(parts) > 1 and parts[1] != "util":
        return LAYERS.index("components.*"), ".".join(parts[:2])
    name = ".".join(parts[:2]) if parts[:2] == ["components", "util"] else parts[0]
    return LAYERS.index(name) if name in LAYERS else LAYERS.index("components.*"), name


def _upward(graph: dict[str, set[str]]) -> list[str]:
    wrong = []
    for module, imported in sorted(graph.items()):
        layer, part = _part(module)
        for other in sorted(imported):
            other_layer, other_part = _part(other)
            if other_layer > layer or (other_layer == layer and other_part != part):
                wrong.append(f"{module} -> {other}")
    return wrong


def test_imports_point_down_the_layers():
    modules = _modules()
    graph = {name: _imports(path, modules) - {name} for name, path in modules.items()}
    assert _upward(graph) == []
    # the check works: a component importing the pipeline, or another component
    assert _upward(
        {"components.trainer.a": {"pipeline.settings", "components.evaluator.b", "components.util.c", "dataset.d"}}
    ) == ["components.trainer.a -> components.evaluator.b", "components.trainer.a -> pipeline.settings"]
    assert _upward({"storage.a": {"dataset.b"}, "kubeflow.c": {"storage.a"}}) == ["storage.a -> dataset.b"]


def test_dataset_knows_nothing_of_tfx():
    users = [
        str(p.relative_to(REPO))
        for p in (REPO / "dataset").rglob("*.py")
        if any(
            isinstance(n, (ast.Import, ast.ImportFrom))
            and any(
                name.split(".")[0] == "tfx"
                for name in ([a.name for a in n.names] if isinstance(n, ast.Import) else [n.module or ""])
            )
            for n in ast.walk(ast.parse(p.read_text()))
        )
    ]
    assert users == []


def test_only_the_tests_benchmarks_and_sample_data_command_use_the_sample_package():
    """Ingestion (dataset/) and the pipeline never import sample_data; `maskrcnn-tfx sample-data` names it
    (pipeline/cli.py imports a command's module when the command runs)."""
    modules = _modules()
    users = sorted(
        f"{name} -> {imported}"
        for name, path in modules.items()
        if not name.startswith("sample_data")
        for imported in _imports(path, modules)
        if imported.split(".")[0] == "sample_data"
    )
    assert users == []
    assert cli.SUBCOMMANDS["sample-data"][0] == "sample_data.sample"


def test_no_module_over_300_lines():
    paths = list(_modules().values()) + list((REPO / "tests").glob("*.py")) + list((REPO / "benchmarks").glob("*.py"))
    assert {str(p.relative_to(REPO)): n for p in paths if (n := len(p.read_text().splitlines())) > MAX_LINES} == {}
