"""After start-up a server process freezes its loaded heap and lets young collections wait for more
objects; a server run inside another program's thread (as in these tests) leaves its collector alone."""

import gc
import os
import subprocess
import sys

from gateway import heap, lifespan

SETTLED_PROCESS = """
import gc
from gateway import lifespan
before = gc.get_freeze_count()
lifespan._warm_up(True)
print(gc.get_threshold()[0], before, gc.get_freeze_count())
"""


def test_a_server_that_owns_its_process_freezes_the_loaded_heap_and_raises_the_young_threshold():
    out = subprocess.run([sys.executable, "-c", SETTLED_PROCESS], capture_output=True, text=True, check=True,
                         env=os.environ | {"PYTHONPATH": "."}).stdout
    threshold, before, after = map(int, out.split())
    assert threshold == heap.YOUNG_THRESHOLD
    assert before == 0 and after > 10_000  # Django, the codecs and the vocabulary: never scanned again


def test_a_server_in_another_programs_thread_leaves_its_collector_alone():
    threshold, frozen = gc.get_threshold(), gc.get_freeze_count()
    lifespan._warm_up(False)
    assert gc.get_threshold() == threshold
    assert gc.get_freeze_count() == frozen
