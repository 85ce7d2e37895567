"""The diff of two runs as one self-contained HTML page, styled like the run report."""

from __future__ import annotations

from devicelab.reports.diff import RunDiff, transport_of
from devicelab.reports.html import environment, stylesheet


def to_html(diff: RunDiff) -> str:
    template = environment().get_template("diff.html.j2")
    transports = {p: transport_of(d.transports) for p, d in diff.details.items()}
    return template.render(diff=diff, transports=transports, css=stylesheet())
