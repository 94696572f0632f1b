"""``python -m mutants [-j N] [--only ID ...]``: see :mod:`mutants.runner`."""

import sys

from mutants.runner import main

sys.exit(main())
