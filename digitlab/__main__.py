"""``python -m digitlab``: see ``digitlab.cli``."""
import sys

from digitlab.cli import main

sys.exit(main())
