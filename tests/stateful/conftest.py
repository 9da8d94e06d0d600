"""Hypothesis profiles for the model-based tests: ``stateful-ci`` (the default) and ``stateful-long``.

``HYPOTHESIS_PROFILE=long`` selects the long one; ``MEMACTOR_STATEFUL_EXAMPLES`` overrides the example count.
The profiles are applied to the state machines of this directory only, never loaded globally, so other
hypothesis tests of the suite keep their own settings.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

_COMMON = {
    "deadline": None,
    "suppress_health_check": (HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much),
}
_EXAMPLES = {"ci": 200, "long": 5000}
_STEPS = {"ci": 25, "long": 80}

for _name in ("ci", "long"):
    _examples = int(os.environ.get("MEMACTOR_STATEFUL_EXAMPLES", _EXAMPLES[_name]))
    settings.register_profile(f"stateful-{_name}", max_examples=_examples, stateful_step_count=_STEPS[_name], **_COMMON)
