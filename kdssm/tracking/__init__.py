"""MLflow records of sweeps (the tracking layer): URIs and provenance, values as MLflow takes them, the
pyfunc model of a checkpoint, and the tracker that writes through MLflow's client API."""

from .pyfunc import StudentModel, signature, to_pyfunc_input
from .tracker import SweepTracker, end_sweep_run, is_outage
from .uri import TrackingError, check_reachable, provenance, resolve_uri
from .values import dataset_record, flat, scalar_metrics, tag_value

__all__ = [
    "StudentModel",
    "SweepTracker",
    "TrackingError",
    "check_reachable",
    "dataset_record",
    "end_sweep_run",
    "flat",
    "is_outage",
    "provenance",
    "resolve_uri",
    "scalar_metrics",
    "signature",
    "tag_value",
    "to_pyfunc_input",
]
