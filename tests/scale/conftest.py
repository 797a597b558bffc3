"""Scale-out tests share the cluster fixture."""

from tests.scale.support import cluster  # noqa: F401
