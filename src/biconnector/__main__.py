import sys

from biconnector.cli import main

sys.exit(main())
