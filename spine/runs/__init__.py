"""The run folder: what every route writes and every report reads.

columns  the columns of ``orders.csv``, ``fills.csv``, ``equity.csv``, ``events.csv``, ``returns.csv``
write    the folder's name; a backtest's written all or nothing, a session's appended row by row
read     ``RunFiles``: the folder read back (what the reports are built from)
summary  ``summary.json``'s facts, built one way for every route
"""

from spine.runs.read import RunFiles, read_run_csv, read_summary
from spine.runs.summary import run_summary
from spine.runs.write import atomic_folder, write_run_files

__all__ = ["RunFiles", "atomic_folder", "read_run_csv", "read_summary", "run_summary", "write_run_files"]
