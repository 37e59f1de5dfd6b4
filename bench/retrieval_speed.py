"""Retrieval speed: indexing 1,000 catalog records (target < 60 s on 2 cores) and answering a query once
the index is loaded (target < 150 ms), measured in one run.

The 1,000 records are variants of the 52 in examples/catalog/catalog.json, each with its own name and
extra sentences, so every one is embedded. Indexing runs `scientist corpus add` in a fresh process
(interpreter, imports, model load and all); queries are the everyday questions of examples/catalog/.

    python bench/retrieval_speed.py [--records 1000]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CATALOG = ROOT / "examples" / "catalog"
EXTRAS = [
    "It was trained on {dataset} for {days} days on {gpus} GPUs.",
    "Version {i} improves robustness on noisy real-world inputs.",
    "A distilled variant runs on phones at about {fps} frames or queries per second.",
    "The authors report results on {dataset} and two further benchmarks.",
    "Released under an open licence with pretrained checkpoints and a demo.",
]
INDEX_BUDGET_S, QUERY_BUDGET_MS = 60.0, 150.0


def variants(count: int) -> list[dict[str, object]]:
    base = json.loads((CATALOG / "catalog.json").read_text())
    rng = random.Random(0)
    records = []
    for i in range(count):
        record = dict(base[i % len(base)])
        record["Model Unique Name"] = f"{record['Model Unique Name']}-v{i}"
        record["Paper"] = f"https://example.org/papers/{i}"  # distinct papers: nothing deduplicates
        facts = {"dataset": record.get("Dataset") or "public data", "days": rng.randint(1, 30), "i": i,
                 "gpus": rng.choice([1, 8, 64]), "fps": rng.randint(5, 120)}  # fmt: skip
        extra = " ".join(rng.sample(EXTRAS, 2)).format(**facts)
        record["Summary"] = f"{record.get('Summary') or ''} {extra}"
        records.append(record)
    return records


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1000)
    args = parser.parse_args()
    scientist = Path(sys.executable).parent / "scientist"
    with tempfile.TemporaryDirectory() as tmp:
        source, corpus = Path(tmp) / "catalog-1000.json", Path(tmp) / "corpus"
        source.write_text(json.dumps(variants(args.records)))
        words = sum(len(str(r["Summary"]).split()) for r in json.loads(source.read_text())) / args.records

        started = time.perf_counter()
        subprocess.run([scientist, "corpus", "add", source, "--corpus", corpus], check=True, capture_output=True)
        index_s = time.perf_counter() - started
        print(f"index {args.records} records (~{words:.0f}-word summaries), fresh process: {index_s:.1f} s "
              f"= {index_s / INDEX_BUDGET_S:.2f} of the {INDEX_BUDGET_S:.0f} s budget")  # fmt: skip

        more = Path(tmp) / "ten-more.json"
        more.write_text(json.dumps([{**r, "Model Unique Name": f"{r['Model Unique Name']}-new"}
                                    for r in variants(10)]))  # fmt: skip
        started = time.perf_counter()
        subprocess.run([scientist, "corpus", "add", more, "--corpus", corpus], check=True, capture_output=True)
        add_s = time.perf_counter() - started
        print(f"add 10 more to {args.records} (incremental, fresh process): {add_s:.1f} s "
              f"= {add_s / index_s:.2f} of the full index time")  # fmt: skip

        sys.path.insert(0, str(ROOT))
        from agent.retrieval import Retriever

        started = time.perf_counter()
        retriever = Retriever.open(corpus)
        retriever.search("warm-up question")
        load_s = time.perf_counter() - started
        questions = [q["question"] for q in json.loads((CATALOG / "questions.json").read_text())]
        questions += [q["question"] for q in json.loads((CATALOG / "questions-heldout.json").read_text())]
        times = []
        for question in questions:
            started = time.perf_counter()
            retriever.search(question, k=5)
            times.append((time.perf_counter() - started) * 1000)
        times.sort()
        median, p95 = statistics.median(times), times[int(0.95 * (len(times) - 1))]
        print(f"load index + model (in process, torch already imported by then): {load_s:.2f} s")
        print(f"query over {len(retriever.catalog.records)} records, {len(times)} questions: median {median:.1f} ms, "
              f"p95 {p95:.1f} ms, max {times[-1]:.1f} ms = {p95 / QUERY_BUDGET_MS:.2f} of the "
              f"{QUERY_BUDGET_MS:.0f} ms budget at p95")  # fmt: skip


if __name__ == "__main__":
    main()
