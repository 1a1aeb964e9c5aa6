"""Self and inclusive time per function from a py-spy raw profile.

    python bench/runner/hotspots.py bench/results/raw/profile-s1.txt [N]
"""

import sys
from collections import Counter


def main(path: str, n: int = 25) -> None:
    self_t, incl_t, total = Counter(), Counter(), 0
    for line in open(path):
        stack, _, count = line.rstrip("\n").rpartition(" ")
        if not stack:
            continue
        c = int(count)
        total += c
        frames = stack.split(";")
        self_t[frames[-1]] += c
        for f in set(frames):
            incl_t[f] += c
    print(f"{total} samples")
    print("self:")
    for f, c in self_t.most_common(n):
        print(f"  {100 * c / total:5.1f}%  {f}")
    print("inclusive (project code):")
    shown = 0
    for f, c in incl_t.most_common():
        if any(k in f for k in ("crdt/", "server/", "persistence/")):
            print(f"  {100 * c / total:5.1f}%  {f}")
            shown += 1
            if shown >= n:
                break


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 25)
