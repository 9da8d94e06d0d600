"""The batch contract suite (tests/test_batch.py), run against PostgreSQL (see conftest.py)."""

from tests.test_batch import *  # noqa: F403
