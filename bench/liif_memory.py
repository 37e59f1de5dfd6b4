"""Peak resident memory of one 512x512 -> 2048x2048 upscale, each run in a fresh process.

python bench/liif_memory.py [--weights CKPT ...] [--precision fp32 bf16]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

CHILD = """
import json, resource, sys, time
import numpy as np
from tools.liif import load_model
weights, precision = sys.argv[1] or None, sys.argv[2]
model = load_model(weights)
image = np.random.default_rng(0).random((512, 512, 3), dtype=np.float32)
start = time.perf_counter()
out = model.predict(image, (2048, 2048), precision)
peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"name": model.name, "seconds": time.perf_counter() - start, "peak_gib": peak_kib / 2**20}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", nargs="*", default=[""], help="checkpoints ('' = the default)")
    parser.add_argument("--precision", nargs="*", default=["fp32"])
    args = parser.parse_args()
    print(f"{'model':<22}{'precision':>10}{'seconds':>9}{'peak RSS GiB':>14}")
    for weights in args.weights:
        for precision in args.precision:
            run = subprocess.run([sys.executable, "-c", CHILD, weights, precision], capture_output=True, text=True)
            if run.returncode != 0:
                sys.exit(run.stderr)
            r = json.loads(run.stdout.strip().splitlines()[-1])
            print(f"{r['name']:<22}{precision:>10}{r['seconds']:9.1f}{r['peak_gib']:14.2f}")


if __name__ == "__main__":
    main()
