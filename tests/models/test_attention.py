import keras
import numpy as np
import pytest

from models.attention import SequenceAttention

VALUES = np.random.default_rng(0).normal(size=(2, 5, 4)).astype("float32")
QUERY = np.random.default_rng(1).normal(size=(2, 4)).astype("float32")
MASK = np.array([[True, True, True, False, False], [True, True, True, True, True]])


@pytest.mark.parametrize("score", ["bahdanau", "dot"])
def test_weights_sum_to_one_over_tokens_and_are_zero_on_padding(score):
    context, weights = SequenceAttention(score, units=3)([VALUES, QUERY], mask=[MASK, None])
    weights, context = np.asarray(weights), np.asarray(context)
    np.testing.assert_allclose(weights.sum(axis=1), 1.0, rtol=1e-6)
    assert (weights[0, 3:] == 0).all()
    np.testing.assert_allclose(context, np.einsum("bt,btd->bd", weights, VALUES), rtol=1e-5, atol=1e-6)


def test_dot_scores_are_query_value_products():
    _, weights = SequenceAttention("dot")([VALUES, QUERY])
    scores = np.einsum("btd,bd->bt", VALUES, QUERY)
    expected = np.exp(scores) / np.exp(scores).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(np.asarray(weights), expected, rtol=1e-5)


@pytest.mark.parametrize("score", ["bahdanau", "dot"])
def test_config_round_trip(score):
    layer = SequenceAttention(score, units=7, name="attention")
    clone = SequenceAttention.from_config(layer.get_config())
    assert (clone.score, clone.units, clone.name) == (score, 7, "attention")


@pytest.mark.parametrize("score", ["bahdanau", "dot"])
def test_keras_file_round_trip_inside_a_model(score, tmp_path):
    values = keras.Input(shape=(None, 4))
    query = keras.Input(shape=(4,))
    context, weights = SequenceAttention(score, units=3, name="attention")([values, query])
    model = keras.Model([values, query], [context, weights])
    model.save(tmp_path / "attention.keras")
    restored = keras.saving.load_model(tmp_path / "attention.keras")
    assert isinstance(restored.get_layer("attention"), SequenceAttention)
    for original, loaded in zip(model([VALUES, QUERY]), restored([VALUES, QUERY])):
        np.testing.assert_allclose(np.asarray(original), np.asarray(loaded), rtol=1e-6)


def test_invalid_arguments_name_the_value():
    with pytest.raises(ValueError, match="score='cosine'"):
        SequenceAttention("cosine")
    with pytest.raises(ValueError, match="units=0"):
        SequenceAttention(units=0)
    with pytest.raises(ValueError, match="query 3, values 4"):
        SequenceAttention("dot")([VALUES, QUERY[:, :3]])
