"""Parameter sweeps and walk-forward on Dask (``spine sweep``; needs the ``sweep`` extra)."""

from spine.sweep.spec import SweepSpec, load_sweep_spec

__all__ = ["SweepSpec", "load_sweep_spec"]
