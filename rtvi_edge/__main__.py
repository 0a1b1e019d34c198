import sys

from rtvi_edge.cli import main

sys.exit(main())
