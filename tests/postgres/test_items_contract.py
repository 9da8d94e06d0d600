"""The item store's contract suite (tests/test_items.py), run against PostgreSQL (see conftest.py)."""

from tests.test_items import *  # noqa: F403
