"""Parameter sweeps and walk-forward on Dask (``spine sweep``; needs the ``sweep`` extra).

spec          the ``sweep.yaml`` file: swept config keys, search, objective, walk-forward
universe      ``tickers``, the swept universe: normalised, checked against the data, selected
overrides     a trial's dotted-key overrides applied to the base config, through the models
search_space  the parameter sets of a grid or random search, in a fixed order
walk_forward  the rolling folds and their out-of-sample bookkeeping
trial         one trial on a worker: a fresh backtest for one parameter dict and window
plan          ``SweepRequest``, ``SweepPlan`` and ``plan_sweep``: every input check before a cluster starts
cluster       the Dask cluster: a LocalCluster of processes, or one joined by address
warm          ``WarmWorker``: each worker imports what a trial runs on when it joins
tpe           Optuna's TPE search, ask/tell in the driver
sweep_folder  the hidden working folder and its journal, renamed into place when done
results       trial outcomes as rows of ``results.csv``, and the objective read from them
heatmap       heat maps of the objective over each pair of swept parameters
outputs       the finished folder: ``results.csv``, ``summary.json``, heat maps, walk-forward files
keep          ``--keep best|all|none``: the kept trials run again as full run folders (``report.html``)
runner        ``run_sweep``: plan, start or join the cluster, run the trials, write the folder
"""

from spine.sweep.spec import SweepSpec, load_sweep_spec

__all__ = ["SweepSpec", "load_sweep_spec"]
