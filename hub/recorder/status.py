"""The recorder's status for operations: its /readyz check and its /metrics figures."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from prometheus_client.core import Metric

    from hub.recorder.recorder import Recorder

OK = "ok"


def readiness(recorder: Recorder | None) -> dict[str, str]:
    """Return the `recorder` check: "ok" while the history backend writes, else its last error."""
    if recorder is None:
        return {"recorder": "the recorder is not running"}
    commits = recorder.commits
    if commits.error:
        return {
            "recorder": f"cannot write the spool in {recorder.spool.folder}: {commits.error}; "
            f"{commits.held_points} points held in memory"
        }
    if recorder.last_error:
        return {"recorder": f"history backend {recorder.backend.name} failing: {recorder.last_error}"}
    return {"recorder": OK}


def metrics(recorder: Recorder | None) -> list[Metric]:
    """Return the backlog (queue, spool), what was written and how long it took, and the backend's health."""
    if recorder is None:
        return []
    from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, SummaryMetricFamily  # noqa: PLC0415 - at scrape time

    spool = recorder.spool
    up = GaugeMetricFamily("hub_recorder_backend_up", "1 when the last history write succeeded.", labels=["backend"])
    up.add_metric([recorder.backend.name], 0 if recorder.last_error else 1)
    return [
        GaugeMetricFamily("hub_recorder_queue_depth", "State changes waiting to be batched.", value=recorder.queue_depth),
        GaugeMetricFamily("hub_recorder_spool_points", "Points in the on-disk spool, not yet in the backend.", value=spool.points),
        GaugeMetricFamily("hub_recorder_spool_bytes", "Size of the on-disk spool.", value=spool.size),
        GaugeMetricFamily(
            "hub_recorder_held_points", "Points held in memory because the spool cannot be written.", value=recorder.commits.held_points
        ),
        CounterMetricFamily(
            "hub_recorder_spool_dropped_points",
            "Points dropped because the spool hit its size limit, or could not be written and memory was full.",
            value=spool.dropped_points + recorder.commits.dropped_points,
        ),
        CounterMetricFamily("hub_recorder_written_points", "Points stored in the history backend.", value=recorder.written_points),
        SummaryMetricFamily(
            "hub_recorder_write_duration_seconds",
            "Time the history backend took per stored batch.",
            count_value=recorder.write_count,
            sum_value=recorder.write_seconds,
        ),
        up,
    ]
