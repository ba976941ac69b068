"""A host whose wall clock is off: with this folder on PYTHONPATH, ``time.time()`` and
``time.time_ns()`` run ``SECONDME_TEST_CLOCK_OFFSET_S`` seconds ahead (negative: behind).

Network namespaces share the machine's clock, so a test that needs two hosts to disagree
about the time starts one node's process with this, as ``faketime`` would."""

import os
import time

_offset_s = float(os.environ.get("SECONDME_TEST_CLOCK_OFFSET_S", "0"))
_time, _time_ns = time.time, time.time_ns
time.time = lambda: _time() + _offset_s
time.time_ns = lambda: _time_ns() + int(_offset_s * 1_000_000_000)
