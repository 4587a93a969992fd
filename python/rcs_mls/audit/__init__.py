"""Which conversations are really end-to-end encrypted: an audit of server traffic.

``python -m rcs_mls audit TRACE`` reads a trace of the CPIM objects that crossed a server
(:mod:`rcs_mls.audit.trace`: JSON lines, or a directory of raw CPIM files) and, with no
key, reports per conversation which objects were MLS-protected and which were in the
clear, by kind; what MLS shows a server; and downgrade or anomaly signals, with a verdict
line (:mod:`rcs_mls.audit.analyze`). Output as a terminal table, JSON, or a
self-contained HTML page (:mod:`rcs_mls.audit.render`). See ``docs/audit.md``.
"""

from rcs_mls.audit.analyze import (
    KINDS,
    PROTECTIONS,
    Anomaly,
    AuditReport,
    ConversationReport,
    ObjectView,
    audit,
)
from rcs_mls.audit.cli import audit_path
from rcs_mls.audit.render import render_html, render_json, render_text
from rcs_mls.audit.trace import (
    TraceIssue,
    TraceParseError,
    TraceRecord,
    TraceWriter,
    TracingRelay,
    read_trace,
)

__all__ = [
    "KINDS",
    "PROTECTIONS",
    "Anomaly",
    "AuditReport",
    "ConversationReport",
    "ObjectView",
    "TraceIssue",
    "TraceParseError",
    "TraceRecord",
    "TraceWriter",
    "TracingRelay",
    "audit",
    "audit_path",
    "read_trace",
    "render_html",
    "render_json",
    "render_text",
]
