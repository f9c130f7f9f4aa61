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


def test_geometry_sits_below_models_and_data():
    """The geometry imports nothing of the project but the config, and no torch: models and data build on it."""
    path = pathlib.Path(__file__).resolve().parents[1] / "kdssm" / "geometry.py"
    names = _imports(path)
    assert not any(n.startswith(".") and n not in (".config",) for n in names), names
    assert "torch" not in {n.split(".")[0] for n in names}


def _imports(path: pathlib.Path) -> set[str]:
    tree = ast.parse(path.read_text())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            found.add(("." * node.level) + (node.module or ""))
    return found


def test_models_never_import_training_or_upper_layers():
    root = pathlib.Path(__file__).resolve().parents[1] / "kdssm"
    for folder in ("models", "data"):
        for path in (root / folder).glob("*.py"):
            for name in _imports(path):
                assert not any(part in name for part in ("train", "distill", "cli", "tracking", "tune")), (
                    f"{path.name} imports {name}"
                )


ALLOWED_FRAMEWORK_FILES = {
    "kdssm/train/distributed.py",
    "kdssm/train/cluster.py",
    "kdssm/train/history.py",
    "kdssm/tracking/tracker.py",
    "kdssm/tracking/pyfunc.py",
    "kdssm/deploy/source.py",
    "kdssm/deploy/ray_focus.py",
    "kdssm/ray_local.py",  # Ray imported inside start_local_ray only (LOWER checks the import is free)
}


def test_ray_optuna_mlflow_only_in_distributed_tracking_and_search():
    root = pathlib.Path(__file__).resolve().parents[1]
    for path in sorted((root / "kdssm").rglob("*.py")):
        rel = str(path.relative_to(root))
        used = {name.split(".")[0] for name in _imports(path)} & {"ray", "optuna", "mlflow"}
        assert not used or rel in ALLOWED_FRAMEWORK_FILES, f"{rel} imports {sorted(used)}"
    for path in sorted((root / "tune").glob("*.py")):  # the search layer may use all three, never the CLI
        assert not any("cli" in name for name in _imports(path)), path.name


@pytest.mark.parametrize("module", ["kdssm.deploy.focus", "kdssm.deploy.export", "kdssm.cli.deploy"])
def test_deploy_loads_ray_and_mlflow_only_when_used(module):
    """focus and export start fast: Ray, MLflow and Lightning load only for a cluster or a registry URI."""
    assert _frameworks_loaded_by(module) == ""


def test_deploy_sits_above_training_and_below_the_cli():
    root = pathlib.Path(__file__).resolve().parents[1] / "kdssm" / "deploy"
    for path in root.glob("*.py"):
        for name in _imports(path):
            assert not any(part in name for part in ("cli", "tune", "distill", "..train")), (
                f"{path.name} imports {name}"
            )


def test_training_sits_below_distillation():
    """The losses are their own module below training: kdssm/train/ never imports kdssm/distill/."""
    root = pathlib.Path(__file__).resolve().parents[1] / "kdssm"
    for path in (root / "train").glob("*.py"):
        assert not any("distill" in name for name in _imports(path)), f"train/{path.name} imports distillation"
    assert "..losses" in _imports(root / "train" / "module.py")
