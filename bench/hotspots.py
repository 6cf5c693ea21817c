"""The hottest functions of a py-spy raw profile (collapsed stacks: "frame;frame;... count").

Usage: hotspots.py RAW [TOP] [FRAME]. Prints own time (the function itself was running) and total
time (it was on the stack), as shares of all samples, or of those whose stack holds FRAME (say
"Runner.run": the event loop's thread only, without idle worker threads); a frame's line number is
dropped so that a function counts once.
"""

import re
import sys
from collections import Counter

_LINE = re.compile(r":\d+\)$")


def _function(frame: str) -> str:
    return _LINE.sub(")", frame.strip())


def hotspots(lines, only: str = ""):
    own, total, samples = Counter(), Counter(), 0
    for line in lines:
        stack, _, count = line.rstrip().rpartition(" ")
        if not stack or not count.isdigit() or only not in stack:
            continue
        count = int(count)
        samples += count
        frames = [_function(frame) for frame in stack.split(";")]
        own[frames[-1]] += count
        for frame in set(frames):
            total[frame] += count
    return own, total, samples


def main(path: str, top: str = "40", only: str = ""):
    with open(path) as raw:
        own, total, samples = hotspots(raw, only)
    print(f"{samples} samples" + (f" with {only} on the stack" if only else ""))
    for title, counter in (("own time", own), ("total time", total)):
        print(f"\n## {title}")
        for frame, count in counter.most_common(int(top)):
            print(f"{100 * count / max(samples, 1):5.1f} %  {frame}")


if __name__ == "__main__":
    main(*sys.argv[1:4])
