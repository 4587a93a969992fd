"""The audit report as a terminal table, JSON, or a self-contained HTML page."""

from __future__ import annotations

import html
import json

from .analyze import KINDS, PROTECTIONS, AuditReport, ConversationReport

__all__ = ["render_html", "render_json", "render_text"]

_COLOURS = {"encrypted": "#2e7d32", "signed": "#1565c0", "clear": "#c62828"}
_STATUS_COLOURS = {
    "E2EE": "#2e7d32",
    "E2EE-ENDED": "#ef6c00",
    "E2EE-ANOMALIES": "#ef6c00",
    "NOT-E2EE": "#c62828",
}


def _mls_lines(c: ConversationReport) -> list[str]:
    if not c.uses_mls:
        return ["MLS: none"]
    epochs = (
        "-"
        if c.first_epoch is None
        else f"{c.first_epoch}" + (f"-{c.last_epoch}" if c.last_epoch != c.first_epoch else "")
    )
    eras = ", ".join(map(str, c.eras)) or "-"
    groups = ", ".join(c.group_ids) or "-"
    commits = " ".join(f"{e}:{n}" for e, n in sorted(c.commits_per_epoch.items())) or "-"
    if c.rejected_commits:
        commits += f" ({c.rejected_commits} rejected)"
    pairs = zip(c.welcome_sizes, c.welcome_recipients, strict=True)
    welcomes = ", ".join(f"{s} B ({r} new member{'' if r == 1 else 's'})" for s, r in pairs) or "-"
    handshakes = ", ".join(f"{k} {v}" for k, v in sorted(c.handshakes.items())) or "-"
    lines = [
        f"MLS group {groups}; era {eras}; epochs {epochs}",
        f"commits per epoch: {commits}",
        f"Welcomes: {welcomes}",
        f"PublicMessage handshakes: {handshakes}",
    ]
    if c.participants:
        lines.append("added: " + ", ".join(c.participants))
    return lines


def render_text(report: AuditReport, *, source: str = "trace") -> str:
    """The terminal report: per conversation a table of objects by kind and protection,
    what MLS shows, the anomalies, and the verdict line."""
    objects = sum(len(c.objects) for c in report.conversations)
    out = [
        f"Audit of {source}: {report.records} records, {objects} distinct objects, "
        f"{len(report.conversations)} conversation(s), {len(report.issues)} skipped"
    ]
    for issue in report.issues:
        out.append(f"  skipped {issue.source}: {issue.message}")
    for c in report.conversations:
        out.append("")
        out.append(f"Conversation {c.conversation}")
        counts = c.counts()
        out.append(f"  {'kind':<14}" + "".join(f"{p:>11}" for p in PROTECTIONS))
        for kind in KINDS:
            row = counts[kind]
            if any(row.values()):
                out.append(f"  {kind:<14}" + "".join(f"{row[p]:>11}" for p in PROTECTIONS))
        for line in _mls_lines(c):
            out.append(f"  {line}")
        for a in c.anomalies:
            where = "" if a.epoch is None else f" epoch {a.epoch}"
            at = f" [{a.source}]" if a.source else ""
            mark = "!!" if a.severity == "downgrade" else " !"
            out.append(f"  {mark} {a.code}{where}: {a.message}{at}")
        out.append(f"  verdict: {c.verdict}")
    return "\n".join(out) + "\n"


def render_json(report: AuditReport) -> str:
    """The report as a JSON document."""
    return json.dumps(report.to_json(), indent=2) + "\n"


_CSS = """
body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222;max-width:1200px}
h1{font-size:1.4em}h2{font-size:1.15em;margin-top:2em;border-bottom:1px solid #ccc}
table{border-collapse:collapse;margin:.5em 0}td,th{padding:2px 10px;border:1px solid #ddd;
text-align:right}th:first-child,td:first-child{text-align:left}
.verdict{font-weight:bold;padding:4px 8px;color:#fff;display:inline-block;border-radius:3px}
.anom li.downgrade{color:#c62828}.anom li.warning{color:#ef6c00}
.mls{font-family:ui-monospace,monospace;font-size:12px;color:#444}
svg text{font:11px system-ui,sans-serif}.legend span{margin-right:1em}
"""

_LANE_H = 22
_LEFT = 95


def _timeline(c: ConversationReport) -> str:
    kinds = [k for k in KINDS if any(o.kind == k for o in c.objects)]
    n = len(c.objects)
    if not n:
        return "<p>No objects.</p>"
    step = max(2.0, min(24.0, 1000.0 / n))
    width = int(_LEFT + step * n + 30)
    height = 30 + _LANE_H * len(kinds) + 20
    lane = {k: 30 + _LANE_H * i + _LANE_H // 2 for i, k in enumerate(kinds)}
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'role="img" aria-label="timeline of {html.escape(c.conversation)}">'
    ]
    for k in kinds:
        y = lane[k]
        parts.append(
            f'<line x1="{_LEFT}" y1="{y}" x2="{width - 10}" y2="{y}" stroke="#eee"/>'
            f'<text x="4" y="{y + 4}">{html.escape(k)}</text>'
        )
    for obj in c.objects:
        x = _LEFT + step * obj.index + step / 2
        if obj.kind == "control" and obj.detail.startswith("commit"):
            parts.append(
                f'<line x1="{x:.1f}" y1="18" x2="{x:.1f}" y2="{height - 14}" '
                f'stroke="#999" stroke-dasharray="3,3"/>'
            )
            if obj.epoch is not None:
                parts.append(f'<text x="{x + 2:.1f}" y="14">e{obj.epoch}</text>')
    for obj in c.objects:
        x = _LEFT + step * obj.index + step / 2
        y = lane[obj.kind]
        title = html.escape(
            f"#{obj.index} {obj.kind}, {obj.protection}"
            + (f", {obj.wire_format}" if obj.wire_format else "")
            + (f", epoch {obj.epoch}" if obj.epoch is not None else "")
            + f", {obj.size} B from {obj.sender}"
            + (f": {obj.detail}" if obj.detail else "")
            + (f" [{', '.join(obj.anomalies)}]" if obj.anomalies else "")
        )
        r = max(2.0, min(6.0, step / 2.5))
        colour = _COLOURS[obj.protection]
        parts.append(
            f'<circle cx="{x:.1f}" cy="{y}" r="{r:.1f}" fill="{colour}"><title>{title}</title>'
            "</circle>"
        )
        if obj.anomalies:
            parts.append(
                f'<circle cx="{x:.1f}" cy="{y}" r="{r + 3:.1f}" fill="none" stroke="#c62828" '
                f'stroke-width="2"><title>{title}</title></circle>'
            )
    parts.append(
        f'<text x="{_LEFT}" y="{height - 2}">objects in trace order, '
        "dashed line: a commit (the epoch it closes)</text></svg>"
    )
    return "".join(parts)


def _conversation_html(c: ConversationReport) -> str:
    esc = html.escape
    counts = c.counts()
    rows = "".join(
        f"<tr><td>{esc(kind)}</td>"
        + "".join(f"<td>{counts[kind][p]}</td>" for p in PROTECTIONS)
        + "</tr>"
        for kind in KINDS
        if any(counts[kind].values())
    )
    anomalies = "".join(
        f'<li class="{esc(a.severity)}"><b>{esc(a.code)}</b>'
        + (f" (epoch {a.epoch})" if a.epoch is not None else "")
        + f": {esc(a.message)}"
        + (f" <small>{esc(a.source)}</small>" if a.source else "")
        + "</li>"
        for a in c.anomalies
    )
    colour = _STATUS_COLOURS[c.status]
    return (
        f"<h2>Conversation {esc(c.conversation)}</h2>"
        f'<p><span class="verdict" style="background:{colour}">{esc(c.status)}</span> '
        f"{esc(c.verdict)}</p>"
        "<table><tr><th>kind</th>"
        + "".join(f"<th>{p}</th>" for p in PROTECTIONS)
        + f"</tr>{rows}</table>"
        + '<div class="mls">'
        + "<br>".join(esc(line) for line in _mls_lines(c))
        + "</div>"
        + (f'<ul class="anom">{anomalies}</ul>' if anomalies else "<p>No anomaly.</p>")
        + _timeline(c)
    )


def render_html(report: AuditReport, *, source: str = "trace") -> str:
    """A self-contained HTML page (inline CSS and SVG, no external resource): per
    conversation the verdict, the table, what MLS shows, the anomalies and a timeline."""
    esc = html.escape
    legend = "".join(
        f'<span><svg width="12" height="12"><circle cx="6" cy="6" r="5" fill="{c}"/></svg> '
        f"{p}</span>"
        for p, c in _COLOURS.items()
    )
    skipped = "".join(f"<li>{esc(i.source)}: {esc(i.message)}</li>" for i in report.issues)
    objects = sum(len(c.objects) for c in report.conversations)
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>rcs-mls audit of {esc(source)}</title><style>{_CSS}</style></head><body>"
        f"<h1>E2EE audit of {esc(source)}</h1>"
        f"<p>{report.records} records, {objects} distinct objects, "
        f"{len(report.conversations)} conversation(s), {len(report.issues)} skipped. "
        "Read as a server reads it: with no key.</p>"
        f'<p class="legend">{legend}<span>ringed: an anomaly</span></p>'
        + (f"<h2>Skipped</h2><ul>{skipped}</ul>" if skipped else "")
        + "".join(_conversation_html(c) for c in report.conversations)
        + "</body></html>\n"
    )
