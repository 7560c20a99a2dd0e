"""``python -m spine.cli``: the same as the ``spine`` script."""

import sys

from spine.cli.app import main

sys.exit(main())
