"""Reads `socklab bench --json --latency-spectrum` on stdin and checks it
against HdrHistogram's own Python implementation (pip package hdrhistogram,
module hdrh): the base64 histogram decodes, and every row of the text
spectrum is what hdrh finds at that percentile. Prints `ok ROWS` or fails.
Exit 3: hdrh is not installed (the caller skips)."""
import json
import re
import sys

try:
    from hdrh.histogram import HdrHistogram
except ImportError:
    sys.exit(3)

report = json.load(sys.stdin)
hist = HdrHistogram.decode(report["latency_hdr"])
assert hist.get_total_count() == report["completed"], (hist.get_total_count(), report["completed"])

# The percentile-distribution format, parsed as hdr-plot and HdrHistogram's
# plotter parse it: a header, a blank line, rows of Value Percentile
# TotalCount 1/(1-Percentile) (the last row without the fourth column), then
# #[...] footer lines.
lines = report["latency_spectrum"].splitlines()
assert lines[0].split() == ["Value", "Percentile", "TotalCount", "1/(1-Percentile)"], lines[0]
assert lines[1] == ""
rows = []
footer = {}
for line in lines[2:]:
    if line.startswith("#["):
        for key, value in re.findall(r"(\w[\w ]*?)\s*=\s*([0-9.]+)", line):
            footer[key.strip()] = float(value)
        continue
    fields = line.split()
    assert len(fields) in (3, 4), line
    value, percentile, total = float(fields[0]), float(fields[1]), int(fields[2])
    if len(fields) == 4:
        assert abs(float(fields[3]) - 1 / (1 - percentile)) < 0.01 * float(fields[3]) + 0.01, line
    rows.append((value, percentile, total))

assert rows, "no rows"
assert rows[-1][1] == 1.0 and rows[-1][2] == report["completed"], rows[-1]
for before, after in zip(rows, rows[1:]):
    assert before[0] <= after[0] and before[1] <= after[1] and before[2] <= after[2], (before, after)
# Every row's TotalCount is hdrh's count of latencies up to the row's value,
# and that count reaches the row's percentile.
cumulative = {}
for step in hist.get_recorded_iterator():
    cumulative[round(hist.get_highest_equivalent_value(step.value_iterated_to) / 1000.0, 3)] = (
        step.total_count_to_this_value
    )
count = hist.get_total_count()
for value, percentile, total in rows:
    assert cumulative.get(value) == total, (value, total, cumulative.get(value))
    assert total >= percentile * count - 1e-6, (value, percentile, total)
assert footer["Total count"] == report["completed"], footer
assert abs(footer["Max"] - hist.get_max_value() / 1000.0) <= 0.0011 + footer["Max"] * 0.002, footer
print("ok", len(rows))
