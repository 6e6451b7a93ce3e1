"""`python -m tools.load`: see tools/load/cli.py."""

from tools.load.cli import main

raise SystemExit(main())
