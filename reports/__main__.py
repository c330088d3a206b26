"""``python -m selfloop.reports`` is the ``scloop`` command."""

import sys

from .cli import main

sys.exit(main())
