"""The one-way import rule of ARCHITECTURE.md: the lower layers load without the heavy frameworks."""

import ast
import pathlib
import subprocess
import sys

import pytest

HEAVY = ("ray", "optuna", "mlflow", "pytorch_lightning", "lightning")
LOWER = (
    "kdssm.geometry",
    "kdssm.models",
    "kdssm.data",
    "kdssm.metrics",
    "kdssm.losses",
    "kdssm.config",
    "kdssm.checkpoint",
    "kdssm.evaluate",
    "kdssm.interrupts",
    "kdssm.files",
    "kdssm.ray_local",
    "kdssm",
)


def _frameworks_loaded_by(module: str) -> str:
    """The heavy frameworks a fresh interpreter has loaded after importing `module`, comma-separated."""
    code = (
        f"import sys, {module}; heavy = [m for m in sys.modules if m.split('.')[0] in {HEAVY!r}]; "
        "print(','.join(heavy))"
    )
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()


@pytest.mark.parametrize("module", LOWER)
def test_lower_layers_do_not_import_frameworks(module):
    assert _frameworks_loaded_by(module) == ""


def _imports(path: pathlib.Path) -> set[str]:
    """Every module name path imports, at any depth (function-level imports too), relative ones as written."""
    tree = ast.parse(path.read_text())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            found.add(("." * node.level) + (node.module or ""))
    return found


ALLOWED_FRAMEWORK_FILES = {
    "kdssm/train/distributed.py",
    "kdssm/train/cluster.py",
    "kdssm/train/history.py",
    "kdssm/tracking/tracker.py",
    "kdssm/tracking/pyfunc.py",
    "kdssm/deploy/source.py",
    "kdssm/deploy/ray_focus.py",
    "kdssm/tracking/registry.py",
    "kdssm/train/rendezvous.py",
    "kdssm/ray_local.py",  # Ray imported inside start_local_ray only (LOWER checks the import is free)
}


def test_ray_optuna_mlflow_only_in_distributed_tracking_and_search():
    root = pathlib.Path(__file__).resolve().parents[1]
    for path in sorted((root / "kdssm").rglob("*.py")):
        rel = str(path.relative_to(root))
        used = {name.split(".")[0] for name in _imports(path)} & {"ray", "optuna", "mlflow"}
        assert not used or rel in ALLOWED_FRAMEWORK_FILES, f"{rel} imports {sorted(used)}"


@pytest.mark.parametrize("module", ["kdssm.deploy.focus", "kdssm.deploy.export", "kdssm.cli.deploy"])
def test_deploy_loads_ray_and_mlflow_only_when_used(module):
    """focus and export start fast: Ray, MLflow and Lightning load only for a cluster or a registry URI."""
    assert _frameworks_loaded_by(module) == ""


ROOT = pathlib.Path(__file__).resolve().parents[1]
PACKAGES = {"kdssm": ROOT / "kdssm", "kdssm_tune": ROOT / "tune"}  # import name: folder
# The layers of docs/architecture.md, lowest first: a module's layer is its longest listed prefix, and it
# may import its own layer and those below, never one above.
LAYERS = [
    ("base", ["kdssm.files", "kdssm.interrupts", "kdssm.report", "kdssm.memory", "kdssm.ray_local"]),
    ("config", ["kdssm.config"]),
    ("geometry", ["kdssm.geometry"]),
    ("models", ["kdssm.models", "kdssm.checkpoint", "kdssm"]),
    ("inference", ["kdssm.inference"]),
    ("data, metrics", ["kdssm.data", "kdssm.metrics", "kdssm.evaluate", "kdssm.plots", "kdssm.resources"]),
    ("losses", ["kdssm.losses"]),
    ("training", ["kdssm.train", "kdssm.distill", "kdssm.preflight"]),
    ("distributed", [f"kdssm.train.{m}" for m in ("distributed", "cluster", "history", "rendezvous")]),
    ("tracking", ["kdssm.tracking"]),
    ("deploy", ["kdssm.deploy", "kdssm.compare"]),
    ("search", ["kdssm_tune"]),
    ("cli", ["kdssm.cli"]),
]


def project_modules() -> dict[str, tuple[pathlib.Path, bool]]:
    """{dotted name: (file, is a package __init__)} of kdssm and the search layer as installed."""
    found = {}
    for top, folder in PACKAGES.items():
        for path in folder.rglob("*.py"):
            parts = [top, *path.relative_to(folder).with_suffix("").parts]
            package = parts[-1] == "__init__"
            found[".".join(parts[:-1] if package else parts)] = (path, package)
    return found


def import_graph() -> dict[str, set[str]]:
    """{module: the project modules it imports}. `from .x import name` points at x.name when that is a
    module, else at x; an import of a package's attribute points at the package (its __init__)."""
    modules = project_modules()
    graph = {}
    for name, (path, package) in modules.items():
        here = name.split(".") if package else name.split(".")[:-1]
        targets = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                wanted = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = here[: len(here) - node.level + 1] if node.level else []
                module = ".".join(base + ([node.module] if node.module else []))
                wanted = [f"{module}.{a.name}" if f"{module}.{a.name}" in modules else module for a in node.names]
            else:
                continue
            for target in wanted:
                parts = target.split(".")
                while parts and ".".join(parts) not in modules:
                    parts.pop()
                if parts and ".".join(parts) != name:
                    targets.add(".".join(parts))
        graph[name] = targets
    return graph


def layer_of(module: str) -> int:
    best, rank = -1, None
    for index, (_, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > best:
                best, rank = len(prefix), index
    assert rank is not None, f"{module} is in no layer of LAYERS (docs/architecture.md)"
    return rank


def test_no_import_points_up_a_layer():
    upward = [
        f"{module} ({LAYERS[layer_of(module)][0]}) imports {target} ({LAYERS[layer_of(target)][0]})"
        for module, targets in import_graph().items()
        for target in targets
        if layer_of(target) > layer_of(module)
    ]
    assert not upward, "\n".join(sorted(upward))


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while not component or component[-1] != v:
                component.append(stack.pop())
                on_stack.discard(component[-1])
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_no_import_cycle():
    assert cycles(import_graph()) == []


def test_the_checks_catch_what_they_guard():
    """The two checks themselves: an upward import and a cycle are found."""
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert layer_of("kdssm.models.sarssm") < layer_of("kdssm.train.module") < layer_of("kdssm.train.cluster")
    assert layer_of("kdssm.deploy.focus") < layer_of("kdssm_tune.sweep") < layer_of("kdssm.cli.demo")
    assert layer_of("kdssm.checkpoint") < layer_of("kdssm.compare")


def test_every_package_is_installed_and_the_search_layer_under_its_own_name():
    """pyproject lists the packages (the search layer's folder tune/ installs as kdssm_tune, never as a
    global `tune`); a new kdssm/ package missing from the list would be left out of the wheel."""
    import tomllib

    setup = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    packages = {name for name, (_, package) in project_modules().items() if package}
    assert set(setup["packages"]) == packages
    assert setup["package-dir"] == {"kdssm_tune": "tune"} and "tune" not in setup["packages"]
