#!/usr/bin/python3
"""Parses Prometheus text (stdin) with the official client library's parser (Debian's
python3-prometheus-client) and prints every sample as JSON: [{"name", "labels", "value"}, ...],
plus each family's type. A syntax error exits non-zero with the parser's message."""
import json
import sys

from prometheus_client.parser import text_string_to_metric_families

families = list(text_string_to_metric_families(sys.stdin.read()))
print(json.dumps({
    "types": {family.name: family.type for family in families},
    "samples": [{"name": s.name, "labels": s.labels, "value": s.value} for family in families for s in family.samples],
}))
