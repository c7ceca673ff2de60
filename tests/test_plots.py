import warnings

import numpy as np

from pipeline.plots import (
    FONT_FAMILY,
    alignment_heatmap,
    attention_heatmap,
    korean_font_path,
    pyplot,
)
from pipeline.text.tokenizers import SPACE_MARK


def _render(figure, path):
    # Matplotlib warns "Glyph ... missing from font(s)" when a character would draw as a box.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        figure.savefig(path)
    pyplot().close(figure)


def test_hangul_renders_with_the_project_font(tmp_path):
    from matplotlib import font_manager

    assert korean_font_path().name == "NanumGothic.ttf"
    plt = pyplot()
    resolved = font_manager.findfont(font_manager.FontProperties(family=plt.rcParams["font.family"]))
    assert resolved == str(korean_font_path())
    figure, axes = plt.subplots()
    axes.set_title("긍정 · 부정 — 한글 제목 -1.5")
    axes.set_xticks([0, 1], ["재밌다", "지루함ㅋㅋ"])
    _render(figure, tmp_path / "hangul.png")
    assert (tmp_path / "hangul.png").stat().st_size > 1000
    assert FONT_FAMILY in plt.rcParams["font.sans-serif"][:1]


def test_attention_heatmap_draws_one_strip_per_example(tmp_path):
    examples = [
        {"tokens": ["영화", "가", "정말", "재밌", "다"], "weights": [0.1, 0.05, 0.3, 0.5, 0.05], "caption": "긍정"},
        {"tokens": ["최악", "이", "다"], "weights": [0.8, 0.1, 0.1], "caption": "부정"},
    ]
    figure = attention_heatmap(examples, "attention")
    strips = [axes for axes in figure.axes if axes.images]
    assert len(strips) == 2
    assert [label.get_text() for label in strips[0].get_xticklabels()] == examples[0]["tokens"]
    np.testing.assert_allclose(strips[1].images[0].get_array()[0], [0.8, 0.1, 0.1])
    _render(figure, tmp_path / "heatmap.png")


def test_alignment_heatmap_draws_hangul_sources_and_subword_marks(tmp_path):
    # Subword and character-level outputs mark word starts with U+2581, which NanumGothic lacks:
    # it must come from the fallback font, not be drawn as a box.
    outputs = [f"{SPACE_MARK}i", f"{SPACE_MARK}lo", "ve", f"{SPACE_MARK}it", f"{SPACE_MARK}."]
    examples = [{"source_tokens": ["나", "는", "그것", "을", "사랑", "해"], "output_tokens": outputs,
                 "weights": np.full((5, 6), 1 / 6), "caption": "test row 0: 나는 그것을 사랑해"}]
    figure = alignment_heatmap(examples, "alignment")
    panel = next(axes for axes in figure.axes if axes.images)
    assert [label.get_text() for label in panel.get_yticklabels()] == outputs
    assert panel.images[0].get_array().shape == (5, 6)
    _render(figure, tmp_path / "alignment.png")
