"""`python -m walt3d_studio ...` runs the `walt3d` command line."""
import sys

from .cli import main

sys.exit(main())
