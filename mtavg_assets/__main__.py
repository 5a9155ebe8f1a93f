import sys

from mtavg_assets.cli import main

sys.exit(main())
