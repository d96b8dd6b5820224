"""``python -m roofline`` runs the command line."""

import sys

from roofline.cli import main

sys.exit(main())
