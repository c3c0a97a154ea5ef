"""The commands the docs show work against the real code: every `maskrcnn-tfx` command in a fenced shell block
of README.md, docs/*.md, benchmarks/RESULTS.md and dataset/dask_runner.md parses with the command line's own
parser (pipeline.cli.build_parser), every `make TARGET` they use is a target of the Makefile, every
`scripts/...` or `benchmarks/*.py` path in a command exists, and a benchmark's options are among its own.
Each check names the doc, the line and the command."""

from __future__ import annotations

import argparse
import dataclasses
import functools
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline import cli

REPO = Path(__file__).resolve().parents[1]
EXPECTED_DOCS = [
    REPO / "README.md",
    *sorted((REPO / "docs").glob("*.md")),
    REPO / "benchmarks" / "RESULTS.md",
    REPO / "dataset" / "dask_runner.md",
]
DOCS = [doc for doc in EXPECTED_DOCS if doc.exists()]
SHELL_FENCES = {"", "sh", "bash", "shell", "console"}  # ```sh, ```bash and plain ```
CLI = "maskrcnn-tfx"
LAUNCHER = "scripts/container"
# Leading VAR=value words (VERBOSE=1, RUN_ARGS="..."), then the launcher, then the command's own name.
ASSIGNMENT = re.compile(r"""[A-Za-z_]\w*=(?:"[^"]*"|'[^']*'|\S*)\s+""")
PLACEHOLDER = re.compile(r"<[^<>\s]+>")  # <id>, <version>, <pipeline-root>: made one dummy token
WORD_PLACEHOLDER = re.compile(r"[A-Z][A-Z0-9_]*")  # DIR, N, RUN_ID, ID1 as a whole word: "1" (a path or a number)
SCRIPT_PATH = re.compile(r"(?<![\w/.-])(?:\./)?(scripts/[\w.-]+|benchmarks/[\w.-]+\.py)")
MAKE_USE = re.compile(r"(?:^|[\s\"'(;&|`])make\s+(?:-\w+\s+|\w+=\S*\s+)*([A-Za-z][\w-]*)(?![\w=-])")
INLINE_CODE = re.compile(r"`([^`\n]+)`")
RUN_ARGS = re.compile(r"""RUN_ARGS=("[^"]*"|'[^']*')""")
SCRIPT_OF = {"scripts/gpu-check": "benchmarks/gpu_check.py"}  # a wrapper and the script it runs


@dataclasses.dataclass(frozen=True)
class Command:
    doc: str  # the doc's path in the repository
    line: int  # where the command starts
    text: str  # backslash-continued lines joined

    def __str__(self) -> str:
        return f"{self.doc}:{self.line}: `{self.text}`"


def _fenced_commands(path: Path) -> list[Command]:
    """The lines of a doc's shell code blocks, continued lines joined."""
    found, fence, pending, start = [], None, "", 0
    for number, line in enumerate(path.read_text().splitlines(), 1):
        stripped = line.strip()
        if stripped.startswith("```"):
            fence = stripped[3:].strip().lower() if fence is None else None
            continue
        if fence not in SHELL_FENCES or not (stripped or pending):
            continue
        if not pending:
            start = number
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        found.append(Command(str(path.relative_to(REPO)), start, pending + stripped))
        pending = ""
    return found


def _inline_code(path: Path) -> list[Command]:
    text = path.read_text()
    return [
        Command(str(path.relative_to(REPO)), text.count("\n", 0, m.start()) + 1, m.group(1))
        for m in INLINE_CODE.finditer(text)
    ]


def words(text: str) -> list[str]:
    """The command's words, without leading VAR=value assignments, the launcher, a leading ./ or comments."""
    while match := ASSIGNMENT.match(text.strip()):
        text = text.strip()[match.end() :]
    tokens = shlex.split(PLACEHOLDER.sub("X", text), comments=True)
    if tokens and tokens[0].removeprefix("./") == LAUNCHER:
        tokens = tokens[1:]
    return [tokens[0].removeprefix("./"), *tokens[1:]] if tokens else []


def _first_word(text: str) -> str:
    try:
        found = words(text)
    except ValueError:  # not shell (prose in a plain block); a CLI command that fails here is caught below
        return CLI if re.search(rf"(?:^|\s|/){CLI}\s", text) else ""
    return found[0] if found else ""


def _unbracket(token: str) -> str:
    """`[--config` -> `--config`, `cpu-demo]` -> `cpu-demo`: a synopsis's optional parts, kept as options."""
    token = token[1:] if token.startswith("[-") else token
    while token.endswith("]") and token.count("]") > token.count("["):
        token = token[:-1]
    return token


def _is_command(word: str) -> bool:
    return word in (CLI, "make", "python") or bool(SCRIPT_PATH.fullmatch(word))


def _uses_make(text: str) -> bool:
    try:
        return bool(MAKE_USE.search(" ".join(words(text))))
    except ValueError:
        return False


FENCED = [command for doc in DOCS for command in _fenced_commands(doc)]
# Commands, and other lines that call make (`podman tag "$(make -s image)" ...`).
SHELL = [command for command in FENCED if _is_command(_first_word(command.text)) or _uses_make(command.text)]
CLI_COMMANDS = [command for command in SHELL if _first_word(command.text) == CLI]
# `make run RUN_ARGS="..."` in prose or blocks: the options `run` is given after --dataset.
for doc in DOCS:
    for command in _inline_code(doc) + _fenced_commands(doc):
        for match in RUN_ARGS.finditer(command.text):
            CLI_COMMANDS.append(
                dataclasses.replace(command, text=f"{CLI} run --dataset DATASET {shlex.split(match.group(1))[0]}")
            )
MAKE_USES = [command for doc in DOCS for command in _inline_code(doc) if MAKE_USE.search(command.text)]


def _ids(commands: list[Command]) -> list[str]:
    return [f"{command.doc}:{command.line}" for command in commands]


def _strict(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """No abbreviated options (`--train-step` for `--train-steps`): a doc spells each option out."""
    parser.allow_abbrev = False
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub_parser in action.choices.values():
                _strict(sub_parser)
    return parser


@functools.cache
def _make_targets() -> frozenset[str]:
    return frozenset(re.findall(r"^([A-Za-z][\w-]*):(?!=)", (REPO / "Makefile").read_text(), re.M))


@functools.cache
def _help_of(script: str) -> str:
    """A benchmark's own --help (each parses its options before importing TensorFlow)."""
    done = subprocess.run(
        [sys.executable, str(REPO / script), "--help"], cwd=REPO, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, f"{script} --help failed: {done.stderr[-2000:]}"
    return done.stdout


def test_the_docs_have_commands_to_check():
    assert DOCS == EXPECTED_DOCS, f"missing: {[str(doc) for doc in EXPECTED_DOCS if doc not in DOCS]}"
    assert len(DOCS) >= 10, "README.md, docs/*.md (eight pages), RESULTS.md and dask_runner.md"
    assert len(CLI_COMMANDS) > 20, f"only {len(CLI_COMMANDS)} maskrcnn-tfx commands found in the docs"
    assert SHELL and MAKE_USES


@pytest.mark.parametrize("command", CLI_COMMANDS, ids=_ids(CLI_COMMANDS))
def test_cli_command_parses(command, capsys):
    try:
        found = words(command.text)
    except ValueError as error:
        pytest.fail(f"{command}: not a shell command line ({error})")
    argv = [_unbracket(token) for token in found[found.index(CLI) + 1 :]]
    argv = ["1" if WORD_PLACEHOLDER.fullmatch(token) else token for token in argv]
    names = [argv[0]] if argv and argv[0] in cli.SUBCOMMANDS else []
    try:
        _strict(cli.build_parser(names)).parse_args(argv)
    except SystemExit as exit:  # argparse: 0 after --help, 2 on an unknown option or a bad value
        assert exit.code == 0, f"{command}: does not parse: {capsys.readouterr().err.strip()}"


@pytest.mark.parametrize("command", SHELL, ids=_ids(SHELL))
def test_command_names_what_exists(command):
    try:
        found = words(command.text)
    except ValueError as error:
        pytest.fail(f"{command}: not a shell command line ({error})")
    joined = " ".join(found)
    missing = [path for token in found for path in SCRIPT_PATH.findall(token) if not (REPO / path).exists()]
    assert not missing, f"{command}: no such file in the repository: {missing}"
    unknown = [target for target in MAKE_USE.findall(joined) if target not in _make_targets()]
    assert not unknown, f"{command}: not a Makefile target: {unknown} (the Makefile has {sorted(_make_targets())})"
    program = found[1] if found[0] == "python" and len(found) > 1 else found[0]
    script = SCRIPT_OF.get(program, program)
    if re.fullmatch(r"benchmarks/[\w.-]+\.py", script) and (REPO / script).exists():
        options = {_unbracket(token).split("=")[0] for token in found if _unbracket(token).startswith("--")}
        own = _help_of(script)
        foreign = sorted(option for option in options if not re.search(rf"(?<![\w-]){option}(?![\w-])", own))
        assert not foreign, f"{command}: {script} has no option {foreign}"


@pytest.mark.parametrize("use", MAKE_USES, ids=_ids(MAKE_USES))
def test_make_targets_in_the_text_exist(use):
    unknown = [target for target in MAKE_USE.findall(use.text) if target not in _make_targets()]
    assert not unknown, f"{use}: not a Makefile target: {unknown}"
