"""Server settings: whether keys are asked, and the request limits, with their defaults."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["MiB", "Settings"]

MiB = 1 << 20


@dataclass(frozen=True)
class Settings:
    """What ``create_app`` needs besides a store; every field has a sensible default."""

    # False: a read-only app that asks no key and routes only the read endpoints
    # (``swanlog watch`` over a logdir). There is no app that writes without keys.
    auth: bool = True

    max_body_bytes: int = 64 * MiB  # a records body, after decompression
    max_records: int = 100_000  # lines in one records batch
    max_metric_name_bytes: int = 1024  # UTF-8 bytes of a metric name
    max_name_chars: int = 256  # a project or run name
    max_file_bytes: int = 256 * MiB  # a console log or media file, after decompression
    max_run_json_bytes: int = 16 * MiB  # the body of PUT /api/v1/runs/{run_id}
    default_points: int = 10_000  # points per page of GET .../metrics/{name}
    max_points: int = 100_000
