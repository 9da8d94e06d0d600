"""memactor's benchmark suite: scripts, never tests. Run ``python -m bench`` or ``memactor bench``."""

from .cli import main

__all__ = ["main"]
