import numpy as np
import pytest

from pipeline.text.vocab import (
    OOV_ID,
    PAD_ID,
    Vocabulary,
    length_at_percentile,
    pad_ids,
)


def test_fit_orders_by_frequency_then_token():
    vocab = Vocabulary.fit([["b", "a", "c"], ["a", "b"], ["a"]])
    assert vocab.tokens == ("<pad>", "<unk>", "a", "b", "c")


def test_min_freq_and_max_size():
    lists = [["a", "a", "b", "b", "c"]]
    assert Vocabulary.fit(lists, min_freq=2).tokens[2:] == ("a", "b")
    assert Vocabulary.fit(lists, max_size=3).tokens[2:] == ("a",)


def test_encode_maps_unknown_to_oov_and_round_trips():
    vocab = Vocabulary.fit([["영화", "좋다"]])
    assert vocab.encode(["영화", "별로"]) == [vocab.tokens.index("영화"), OOV_ID]
    assert Vocabulary.from_dict(vocab.to_dict()) == vocab
    assert vocab.decode([vocab.tokens.index("좋다"), PAD_ID]) == ["좋다"]


def test_order_of_rows_does_not_change_the_vocabulary():
    rows = [["x", "y"], ["y", "z"], ["z", "x"]]
    assert Vocabulary.fit(rows) == Vocabulary.fit(list(reversed(rows)))


def test_invalid_arguments_are_named():
    with pytest.raises(ValueError, match="min_freq=0"):
        Vocabulary.fit([], min_freq=0)
    with pytest.raises(ValueError, match="max_size=2"):
        Vocabulary.fit([], max_size=2)
    with pytest.raises(ValueError, match="must start with"):
        Vocabulary(("a", "b"))


def test_pad_ids_pads_right_and_truncates_either_end():
    ids = [[5, 6, 7, 8], [9]]
    assert pad_ids(ids, 3, "start").tolist() == [[6, 7, 8], [9, 0, 0]]
    assert pad_ids(ids, 3, "end").tolist() == [[5, 6, 7], [9, 0, 0]]
    assert pad_ids([], 3).shape == (0, 3)
    assert pad_ids(ids, 3).dtype == np.int32


def test_length_at_percentile():
    assert length_at_percentile([1, 2, 3, 4, 100], 80) == 24
    assert length_at_percentile([0, 0], 95) == 1
    with pytest.raises(ValueError):
        length_at_percentile([], 95)


def test_truncate_keeps_the_part_pad_ids_keeps():
    from pipeline.text.vocab import truncate

    tokens = ["a", "b", "c", "d"]
    assert truncate(tokens, 2, "start") == ["c", "d"]
    assert truncate(tokens, 2, "end") == ["a", "b"]
    assert truncate(tokens, 9, "start") == tokens
    ids = pad_ids([[5, 6, 7, 8]], 2, "start")
    assert ids.tolist() == [[7, 8]]
