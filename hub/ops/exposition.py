"""The Prometheus text format (0.0.4), written directly.

prometheus_client's generate_latest escapes every label name and value through its UTF-8
machinery, about 60 µs a line; a hub with a few hundred services makes thousands of lines.
Our names are valid legacy names by construction, so only label values need escaping.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from prometheus_client.metrics_core import Metric
# Prometheus's own type names for the OpenMetrics ones the text format lacks.
_TYPES = {"info": "gauge", "stateset": "gauge", "gaugehistogram": "histogram", "unknown": "untyped"}


def go_float(value: float) -> str:
    """Return a sample value as Prometheus writes it (`+Inf`, `1e+06`), with prometheus_client's own function."""
    from prometheus_client.utils import floatToGoString  # noqa: PLC0415 - imported with the first scrape

    to_text: Callable[[float], str] = floatToGoString  # unannotated in prometheus_client
    return to_text(value)


def _escape(value: str) -> str:
    if "\\" in value or '"' in value or "\n" in value:
        return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')
    return value


def render(families: Iterable[Metric]) -> bytes:
    """Return metric families in the Prometheus text format."""
    out: list[str] = []
    append = out.append
    for family in families:
        name = family.name + "_total" if family.type == "counter" else family.name
        documentation = family.documentation.replace("\\", "\\\\").replace("\n", "\\n")
        append(f"# HELP {name} {documentation}\n# TYPE {name} {_TYPES.get(family.type, family.type)}\n")
        for sample in family.samples:
            if sample.name.endswith("_created"):
                continue  # OpenMetrics only; the text format has no place for it
            labels = sample.labels
            if labels:
                text = ",".join(f'{key}="{_escape(str(value))}"' for key, value in sorted(labels.items()))
                append(f"{sample.name}{{{text}}} {go_float(sample.value)}\n")
            else:
                append(f"{sample.name} {go_float(sample.value)}\n")
    return "".join(out).encode()
