"""``python -m thriftbuild``: see :mod:`thriftbuild.cli`."""

import sys

from thriftbuild.cli import main

sys.exit(main())
