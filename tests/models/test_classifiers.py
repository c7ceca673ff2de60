import numpy as np
import pytest

from models.config import ModelConfig
from models.registry import architectures, build_classifier

CLASSIFIERS = architectures("classifiers")

CONFIG = ModelConfig(embedding_dim=8, units=4, dropout_rate=0.1)
BATCH = np.array([[3, 4, 5, 0, 0], [6, 7, 0, 0, 0]], dtype=np.int32)


@pytest.mark.parametrize("name", CLASSIFIERS)
@pytest.mark.parametrize("num_classes, width", [(2, 1), (5, 5)])
def test_every_builder_compiles_and_gives_the_right_shape(name, num_classes, width):
    from models.text_classifier import loss_for

    model = build_classifier(name, CONFIG, vocab_size=10, num_classes=num_classes)
    model.compile(optimizer="adam", loss=loss_for(num_classes))
    outputs = np.asarray(model(BATCH))
    assert outputs.shape == (2, width)
    if num_classes > 2:
        np.testing.assert_allclose(outputs.sum(axis=1), 1.0, rtol=1e-5)


@pytest.mark.parametrize("name", CLASSIFIERS)
def test_padding_does_not_change_the_output(name):
    model = build_classifier(name, CONFIG, vocab_size=10)
    short = np.asarray(model(np.array([[3, 4, 5]], dtype=np.int32), training=False))
    padded = np.asarray(model(np.array([[3, 4, 5, 0, 0, 0]], dtype=np.int32), training=False))
    np.testing.assert_allclose(short, padded, rtol=1e-5, atol=1e-6)


def test_unknown_builder_is_named():
    with pytest.raises(KeyError, match="'gpt'"):
        build_classifier("gpt", CONFIG, vocab_size=10)


def test_class_probabilities_expands_sigmoid_output():
    from models.text_classifier import class_probabilities

    np.testing.assert_allclose(class_probabilities([[0.8], [0.1]]), [[0.2, 0.8], [0.9, 0.1]])
    np.testing.assert_allclose(class_probabilities([[0.2, 0.8]]), [[0.2, 0.8]])


def test_one_class_is_rejected():
    with pytest.raises(ValueError, match="num_classes=1"):
        build_classifier("lstm", CONFIG, vocab_size=10, num_classes=1)


@pytest.mark.parametrize("name", CLASSIFIERS)
def test_every_builder_round_trips_through_a_keras_file(name, tmp_path):
    import keras

    model = build_classifier(name, CONFIG, vocab_size=10, num_classes=3)
    path = tmp_path / f"{name}.keras"
    model.save(path)
    restored = keras.saving.load_model(path)
    np.testing.assert_allclose(np.asarray(model(BATCH)), np.asarray(restored(BATCH)), rtol=1e-6)


def test_attention_inspector_exposes_weights_that_ignore_padding():
    from models.text_classifier import attention_inspector

    model = build_classifier("bilstm_attention", CONFIG, vocab_size=10)
    _, weights = attention_inspector(model)(BATCH)
    weights = np.asarray(weights)
    np.testing.assert_allclose(weights.sum(axis=1), 1.0, rtol=1e-5)
    assert (weights[0, 3:] == 0).all() and (weights[1, 2:] == 0).all()


@pytest.mark.parametrize("name", CLASSIFIERS)
def test_length_buckets_give_what_predict_gives_on_full_padding(name):
    """Serving's bucketed, compiled forward pass against ``model.predict`` on rows padded to max_len,
    for texts of mixed lengths (empty ones included) across several buckets, in the input order."""
    from models.text_classifier import LengthBuckets

    model = build_classifier(name, CONFIG, vocab_size=10, num_classes=3)
    rng = np.random.default_rng(0)
    id_lists = [list(rng.integers(1, 10, size=length)) for length in rng.integers(0, 12, size=23)]
    padded = np.zeros((len(id_lists), 12), dtype=np.int32)
    for row, ids in enumerate(id_lists):
        padded[row, : len(ids)] = ids
    expected = model.predict(padded, verbose=0)
    np.testing.assert_allclose(LengthBuckets(model, batch_size=4)(id_lists), expected, rtol=1e-4, atol=1e-5)
    assert LengthBuckets(model)([]).shape == (0, 3)
