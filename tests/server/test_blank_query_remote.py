"""The blank-query suite (tests/test_blank_query.py), run against `memactor.connect` (see conftest.py)."""

from tests.test_blank_query import *  # noqa: F403
