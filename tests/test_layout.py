"""The layout rules a newcomer relies on (docs/architecture.md, Code layout).

The kernel (`alpr/`) imports no service and not the application layer (`alpr_app/`): read
from every module's import statements and from the module names it passes to importlib as
strings, so a dynamic import cannot hide a dependency either.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUTSIDE_THE_KERNEL = ("services", "alpr_app")


def _imported(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            # "services.x.settings" handed to importlib, or "-m alpr_app.cli" to a subprocess
            text = node.value.strip()
            if any(text == p or text.startswith(p + ".") for p in OUTSIDE_THE_KERNEL) and " " not in text:
                found.append((node.lineno, text))
    return found


def _outside(module: str) -> bool:
    return any(module == p or module.startswith(p + ".") for p in OUTSIDE_THE_KERNEL)


def test_the_kernel_imports_no_service_and_not_the_application_layer():
    offending = [
        f"{path.relative_to(ROOT)}:{line}: {module}"
        for path in sorted((ROOT / "alpr").rglob("*.py"))
        for line, module in _imported(path)
        if _outside(module)
    ]
    assert not offending, "the kernel must not know a service:\n" + "\n".join(offending)


def test_the_check_sees_an_import_of_a_service(tmp_path):
    sample = tmp_path / "m.py"
    sample.write_text(
        "import importlib\nfrom services.ingest import main\nimportlib.import_module('services.audit.settings')\n"
    )
    assert [m for _, m in _imported(sample) if _outside(m)] == ["services.ingest", "services.audit.settings"]


def test_every_settings_module_is_registered_for_the_unknown_variable_check():
    import tomllib

    registered = set(
        tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["entry-points"]["alpr.settings"].values()
    )
    on_disk = {f"services.{p.parent.name}.settings" for p in (ROOT / "services").glob("*/settings.py")}
    assert on_disk <= registered, f'add to [project.entry-points."alpr.settings"]: {sorted(on_disk - registered)}'


TOPIC_NAME = re.compile(r"[\w.-]*alpr\.[a-z-]+\.(v\d+|dlq)")


def _docstrings(tree: ast.AST) -> set[int]:
    ids = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                ids.add(id(first.value))
    return ids


def _topic_literals(path: Path) -> list[tuple[int, str]]:
    """String constants (and f-string pieces) that are a topic's name, with or without a
    prefix before it; prose that mentions a topic (help texts, messages) is not one."""
    tree = ast.parse(path.read_text(), filename=str(path))
    skip = _docstrings(tree)
    found = [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and id(node) not in skip
        and TOPIC_NAME.fullmatch(node.value)
    ]
    return [(n.lineno, n.value) for n in sorted(found, key=lambda n: (n.lineno, n.col_offset))]


def test_no_topic_is_named_outside_the_registry():
    allowed = {
        ROOT / "alpr" / "contracts" / "registry.py",
        Path(__file__).resolve(),
    }  # the list, and this check's own samples
    offending = [
        f"{path.relative_to(ROOT)}:{line}: {text!r}"
        for top in ("alpr", "alpr_app", "services", "tests")
        for path in sorted((ROOT / top).rglob("*.py"))
        if path not in allowed
        for line, text in _topic_literals(path)
    ]
    assert not offending, "name topics through alpr.contracts.registry.Topic:\n" + "\n".join(offending)


def test_the_topic_list_is_the_registry():
    from alpr.contracts.registry import Topic, load_registry

    registry = load_registry()
    assert {t.value for t in Topic} == set(registry)
    for t in Topic:
        if registry[t.value].dlq:
            assert t.dlq.value == registry[t.value].dlq


def test_the_check_sees_a_topic_named_in_code(tmp_path):
    sample = tmp_path / "m.py"
    sample.write_text(
        '"""Reads alpr.reads.v1."""\nT = f"{p}alpr.reads.v1"\nD = "x-alpr.frames.dlq"\nH = "consume alpr.frames.v1"\n'
    )
    assert [t for _, t in _topic_literals(sample)] == ["alpr.reads.v1", "x-alpr.frames.dlq"]


def test_no_test_module_imports_another():
    """Shared helpers live in tests/support (fixtures, and the constants they are built from, in
    a conftest.py), so a test module can be read, moved or deleted alone: a test module imports
    from tests/support and conftest modules only, and tests/support imports no test directory."""
    offending = [
        f"{path.relative_to(ROOT)}:{line}: {module}"
        for path in sorted((ROOT / "tests").rglob("*.py"))
        if path.name.startswith("test_") or "support" in path.relative_to(ROOT).parts
        for line, module in _imported(path)
        if module.startswith("tests.")
        and not module.startswith("tests.support")
        and not (module.rsplit(".", 1)[-1] == "conftest" and "support" not in path.relative_to(ROOT).parts)
    ]
    assert not offending, "move what they share to tests/support:\n" + "\n".join(offending)


SERVICES = sorted(p.name for p in (ROOT / "services").iterdir() if (p / "__init__.py").exists())


def test_every_service_has_the_one_shape_and_is_hosted_by_the_runtime():
    """settings.py, main.py, metrics.py, cli.py in every service; main.run hands the service to
    alpr.runtime.serve; only the runtime (and the ingest upload bench, which measures the API alone) starts uvicorn."""
    assert SERVICES == ["audit", "ingest", "occupancy", "recognizer", "revenue"]
    missing = [f"services/{s}/{f}" for s in SERVICES for f in _SHAPE if not (ROOT / "services" / s / f).exists()]
    assert not missing, missing
    for service in SERVICES:
        main = ast.parse((ROOT / "services" / service / "main.py").read_text())
        run = next(n for n in main.body if isinstance(n, ast.FunctionDef) and n.name == "run")
        called = {c.func.id for c in ast.walk(run) if isinstance(c, ast.Call) and isinstance(c.func, ast.Name)}
        assert "serve" in called, f"services/{service}/main.py: run() must end in alpr.runtime.serve"
    hosts = sorted(
        str(path.relative_to(ROOT))
        for tree in ("alpr", "services", "alpr_app")
        for path in (ROOT / tree).rglob("*.py")
        if any(m == "uvicorn" for _, m in _imported(path))
    )
    assert hosts == ["alpr/runtime.py", "alpr_app/bench/ingest.py"]


_SHAPE = ("settings.py", "main.py", "metrics.py", "cli.py")


def test_services_run_as_processes_only_through_service_process():
    """One runner for a service process (alpr_app/demo/stack.py): no test or command spawns
    `alpr <service> serve` by hand."""
    spawners = sorted(
        str(path.relative_to(ROOT))
        for tree in ("tests", "alpr_app", "services")
        for path in (ROOT / tree).rglob("*.py")
        if path != Path(__file__) and "subprocess.Popen(" in path.read_text() and '"serve"' in path.read_text()
    )
    assert spawners == [], spawners
