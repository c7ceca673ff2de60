"""``python -m pipeline.cli``: the same as ``rnnflow``."""

import sys

from pipeline.cli.main import main

sys.exit(main())
