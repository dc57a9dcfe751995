"""``python -m xmodal.cli``: the ``xmodal`` command."""

import sys

from xmodal.cli.app import main

sys.exit(main())
