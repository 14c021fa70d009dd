"""``python -m locusta``: the same as the ``locusta`` command."""

import sys

from .cli import main

sys.exit(main())
