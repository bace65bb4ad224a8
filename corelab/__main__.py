"""python -m corelab bench | demo"""

from __future__ import annotations

import sys

from corelab.cli import main

sys.exit(main())
