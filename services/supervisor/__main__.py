"""``python -m services.supervisor``: the supervisor process for one data directory (``mini up`` starts it)."""

import sys

from .daemon import main

sys.exit(main())
