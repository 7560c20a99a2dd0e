"""``spine.sweep.heatmap``: each cell's value is written in the colour that reads on that cell."""

from __future__ import annotations

import io

import pandas as pd

from spine.sweep import heatmap


def test_the_best_cell_is_labelled_in_dark_text_and_the_worst_in_light(monkeypatch):
    drawn = []

    class Kept(heatmap.Figure):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            drawn.append(self)

    monkeypatch.setattr(heatmap, "Figure", Kept)
    table = pd.DataFrame([[0.1, 0.3], [0.2, 0.635]], index=[2.0, 3.0], columns=[1.5, 2.0])
    heatmap.plot_heatmap(table, io.BytesIO(), p1="tp", p2="atr", objective="sharpe", research_only=False)
    colours = {text.get_text(): text.get_color() for text in drawn[0].axes[0].texts}
    assert colours["0.635"] == "#000"  # viridis yellow: dark text
    assert colours["0.1"] == "#fff"  # viridis purple: light text
