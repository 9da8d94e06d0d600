"""The stores contract suite (tests/test_stores.py), run against PostgreSQL (see conftest.py)."""

from tests.test_stores import *  # noqa: F403
