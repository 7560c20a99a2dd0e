"""The research-only label (the seed's Ω4) that every output carries while it is active."""

from __future__ import annotations

RESEARCH_LABEL = "RESEARCH ONLY - simulated or paper results, not investment advice, not a live trading record (compliance.omega_4_active)"


def csv_comment(active: bool) -> str:
    """The first line of every CSV Spine writes while Ω4 is active (empty when it is not)."""
    return f"# {RESEARCH_LABEL}\n" if active else ""
