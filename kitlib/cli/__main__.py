"""``python -m kitlib.cli``: the same as the ``kit`` command."""

import sys

from kitlib.cli import main

sys.exit(main())
