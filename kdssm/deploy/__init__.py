"""Deploy: focusing scenes and long lines with trained students, export, reduced precision, Ray Data.

Above tracking in the layers (ARCHITECTURE.md); Ray and MLflow are imported only where used.
"""

from .errors import DeployError

__all__ = ["DeployError"]
