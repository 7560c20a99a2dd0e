"""Every ``spine`` command, thin: each parses its flags and calls one route or tool.

app       the ``spine`` typer app, ``main``, bad input to exit 2 (lazy sub-commands)
params    flag parsers: ports, client ids, seconds, hosts, account codes; one line per bad value
backtest  ``spine backtest``
report    ``spine report RUN_DIR``
safety    ``spine check`` / ``kill`` / ``resume`` / ``status``
paper     ``spine paper`` and ``spine rehearse``
gateway   ``spine gateway``
sweep     ``spine sweep``
data      ``spine data fetch``
dashboard ``spine dashboard``
"""

from spine.cli.app import EXIT_BAD_INPUT, app, main

__all__ = ["EXIT_BAD_INPUT", "app", "main"]
