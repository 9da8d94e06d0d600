"""The item store contract suite (tests/test_items.py), run against `memactor.connect` (see conftest.py)."""

from tests.test_items import *  # noqa: F403
