"""`python -m rarereads ...` is the `rarereads` console script (torchrun and child processes use it)."""
import sys

from .cli import main

sys.exit(main())
