"""The search contract suite (tests/test_search.py), run against PostgreSQL (see conftest.py)."""

from tests.test_search import *  # noqa: F403
