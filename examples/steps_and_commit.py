"""Explicit steps, commit=False staging and define_metric, as W&B users know them.

python examples/steps_and_commit.py
"""

from __future__ import annotations

import swanlog_core as swanlog

run = swanlog.init(project="examples", name="steps-and-commit")

# Each metric counts its own steps when no step is given (SwanLab's rule):
swanlog.log({"loss": 0.9, "acc": 0.1})  # loss step 0, acc step 0
swanlog.log({"loss": 0.8, "iter": 1})  # loss step 1, iter step 0
swanlog.log({"loss": 0.7, "iter": 2})  # loss step 2, iter step 1

# step= puts every key of the call at that step:
swanlog.log({"eval/score": 0.5}, step=100)
swanlog.log({"eval/score": 0.6}, step=200)
swanlog.log({"eval/score": 0.55}, step=150)  # an earlier step that is free: written

# commit=False stages values; the next committing call writes them together:
swanlog.log({"grad/norm": 1.5}, commit=False, step=300)
swanlog.log({"eval/score": 0.7}, step=300)  # grad/norm and eval/score both at step 300

# The first value of a (metric, step) wins; a second one is discarded with one warning:
swanlog.log({"eval/score": 0.0}, step=100)

# Summaries: the best value instead of the last, and a custom x axis for the dashboard.
swanlog.define_metric("eval/score", summary="best", objective="maximize", step_metric="epoch")
run.summary["notes"] = "staged and explicit steps"
swanlog.finish()

print(dict(run.summary))
print(f"files under {run.dir / 'metrics'}")
