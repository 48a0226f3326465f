"""Images, histograms and text next to the numbers: what they look like on disk.

pip install 'swanlog[media]'      # Pillow and NumPy
python examples/media.py
"""

from __future__ import annotations

import numpy as np

import swanlog_core as swanlog

rng = np.random.default_rng(0)
run = swanlog.init(project="examples", name="media")

weights = rng.normal(size=(64, 32))
for epoch in range(3):
    # A stand-in for a model's output: a 32x48 RGB gradient, HWC floats in [0, 1].
    h, w = np.mgrid[0:1:32j, 0:1:48j]
    sample = np.stack([w, h, np.full_like(w, epoch / 2)], axis=-1)
    weights = weights * 0.9 + rng.normal(scale=0.1, size=weights.shape)
    swanlog.log(
        {
            "train/loss": 1.0 / (epoch + 1),
            "samples": swanlog.Image(sample, caption=f"epoch {epoch}"),
            "weights": swanlog.Histogram(weights, num_bins=32),
            "grad_norms": list(rng.random(100)),  # a plain list of numbers is a histogram too
            "notes": swanlog.Text(f"epoch {epoch}: lr stays at 1e-3"),
        }
    )

swanlog.finish()
print(f"run folder: {run.dir}")
print("payload files:", *sorted(p.relative_to(run.dir).as_posix() for p in (run.dir / "media").rglob("*.*")))
print("try: jq -c '.value | {path, width, height, caption}' " + str(run.dir / "metrics" / "samples.jsonl"))
