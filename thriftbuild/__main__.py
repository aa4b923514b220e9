"""``python -m thriftbuild``: see :mod:`thriftbuild.codegen.cli`."""

import sys

from thriftbuild.codegen.cli import main

sys.exit(main())
