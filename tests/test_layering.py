"""The house's rules, read from the imports themselves (every import, also those inside functions):
nothing imports upward, and the run directory's layout stays free of torch."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import ROOT

# package -> packages it must never import (prefix match on the dotted module name)
FORBIDDEN = {
    "agent.model": ("agent.learn", "agent.run", "agent.suite", "agent.api", "agent.cli", "agent.world_model_agent"),
    "agent.learn": ("agent.run", "agent.suite", "agent.api", "agent.cli", "agent.world_model_agent"),
    "agent.run": ("agent.suite", "agent.api", "agent.cli"),
    "agent.suite": ("agent.run", "agent.model", "agent.learn", "agent.api", "agent.cli", "agent.world_model_agent"),
    "agent.layout": ("agent.", "envs", "planners", "torch"),
    "agent.config": ("agent.", "torch", "planners"),
    "planners": ("agent",),
    "envs": ("agent", "planners"),
}
# Exceptions to the rules above: the planners' option ranges (plain dataclasses, no torch) are the one place
# a planner option's range is written, and the run's config validates with them.
ALLOWED = {"agent.config": ("planners.config",)}


def module_name(path: Path, root: Path) -> str:
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def within(module: str, prefixes: tuple[str, ...]) -> bool:
    """``module`` is one of ``prefixes`` or inside one (a prefix ending in '.' means strictly inside)."""
    return any(module == p.rstrip(".") or module.startswith(p if p.endswith(".") else p + ".") for p in prefixes)


def violations(rules: dict[str, tuple[str, ...]], root: Path = ROOT) -> list[str]:
    found = []
    for package in ("agent", "planners", "envs"):
        for path in sorted((root / package).rglob("*.py")):
            name = module_name(path, root)
            for owner, banned in rules.items():
                if name != owner and not name.startswith(owner + "."):
                    continue
                for imported in sorted(imports_of(path)):
                    if within(imported, banned) and not within(imported, ALLOWED.get(owner, ())):
                        found.append(f"{name} imports {imported}")
    return found


def test_nothing_imports_upward():
    assert violations(FORBIDDEN) == []


def test_the_check_sees_an_upward_import_inside_a_function(tmp_path):
    (tmp_path / "agent" / "model").mkdir(parents=True)
    (tmp_path / "planners").mkdir()
    (tmp_path / "envs").mkdir()
    (tmp_path / "agent" / "model" / "bad.py").write_text("def f():\n    from agent.run.trainer import Trainer\n")
    assert violations(FORBIDDEN, tmp_path) == ["agent.model.bad imports agent.run.trainer",
                                               "agent.model.bad imports agent.run.trainer.Trainer"]


@pytest.mark.parametrize("module", ["agent.layout", "agent.suite.command", "agent.config", "planners.config"])
def test_configs_and_reading_run_directories_do_not_load_torch(module):
    code = f"import sys, {module}; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_the_config_may_import_the_planner_ranges_and_no_other_planner_module(tmp_path):
    (tmp_path / "agent").mkdir()
    (tmp_path / "planners").mkdir()
    (tmp_path / "envs").mkdir()
    (tmp_path / "agent" / "config.py").write_text("from planners.config import accepts_of\nimport planners.sampling\n")
    assert violations(FORBIDDEN, tmp_path) == ["agent.config imports planners.sampling"]
