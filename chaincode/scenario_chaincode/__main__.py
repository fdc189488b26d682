"""`python -m scenario_chaincode`: run the scenario chaincode server (see scenario_chaincode.server)."""

import sys

from .server import main

sys.exit(main())
