"""A plain-Python training loop (no framework needed) that logs train and val metrics.

Run it, then look at what it wrote:

    python examples/train.py
    swanlog ls
    tail swanlog/run-*/metrics/train/loss.jsonl
"""

from __future__ import annotations

import math
import random

import swanlog_core as swanlog


def main() -> None:
    config = {"lr": 0.05, "epochs": 5, "batches": 50, "seed": 0}
    random.seed(config["seed"])
    # Fit y = 3x + 1 with noise, by plain stochastic gradient descent.
    data = [(x, 3 * x + 1 + random.gauss(0, 0.1)) for x in (random.uniform(-1, 1) for _ in range(1000))]
    train, val = data[:800], data[800:]
    w, b = 0.0, 0.0

    with swanlog.init(project="examples", name="linear-regression", config=config) as run:
        swanlog.define_metric("val/loss", summary="min")
        for epoch in range(config["epochs"]):
            random.shuffle(train)
            for i in range(config["batches"]):
                batch = train[i * 16 : (i + 1) * 16]
                grad_w = sum(2 * (w * x + b - y) * x for x, y in batch) / len(batch)
                grad_b = sum(2 * (w * x + b - y) for x, y in batch) / len(batch)
                lr = (
                    config["lr"]
                    * 0.5
                    * (
                        1
                        + math.cos(
                            math.pi * (epoch * config["batches"] + i) / (config["epochs"] * config["batches"])
                        )
                    )
                )
                w, b = w - lr * grad_w, b - lr * grad_b
                loss = sum((w * x + b - y) ** 2 for x, y in batch) / len(batch)
                swanlog.log({"train": {"loss": loss, "lr": lr}})  # train/loss, train/lr: steps 0, 1, 2...
            val_loss = sum((w * x + b - y) ** 2 for x, y in val) / len(val)
            within = sum(abs(w * x + b - y) < 0.2 for x, y in val) / len(val)
            swanlog.log({"val/loss": val_loss, "val/acc": within, "epoch": epoch})  # steps 0..4
            print(f"epoch {epoch}: val/loss {val_loss:.4f}  w={w:.3f} b={b:.3f}")
        run.summary["w"], run.summary["b"] = w, b
    print(f"\nwrote {run.dir}\n  try: swanlog show {run.id}    tail {run.dir}/metrics/val/loss.jsonl")
    print("  charts: swanlog watch    (then open http://127.0.0.1:5093 in a browser)")


if __name__ == "__main__":
    main()
