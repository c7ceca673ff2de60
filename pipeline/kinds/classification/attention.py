"""Which tokens an attention classifier weighed: shared by evaluation (heatmaps) and serving
(``return_attention``), so both show the same tokens against the same weights."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from pipeline.text.subword import pieces_to_words
from pipeline.text.vocab import Vocabulary, pad_ids, truncate


def token_attention(inspector, vocab: Vocabulary, token_lists: Sequence[Sequence[str]], max_len: int,
                    truncate_from: str, pieces: bool = False) -> tuple[np.ndarray, list[list[tuple[str, float]]]]:
    """(model outputs, per text the (token, attention weight) pairs over the tokens it saw).

    Tokens are the text's own (not ``<unk>``), cut the way ``pad_ids`` cuts them, so weight i
    belongs to token i. ``inspector`` is ``models.text_classifier.attention_inspector(model)``.
    With ``pieces`` (a model on subword pieces) the pieces of each word are joined back into the
    word, weighted by the sum of its pieces' weights, so readers see words either way.
    """
    ids = pad_ids([vocab.encode(tokens) for tokens in token_lists], max_len, truncate_from)
    outputs, weights = inspector.predict(ids, batch_size=256, verbose=0)  # weights: (batch, max_len)
    pairs = []
    for row, tokens in enumerate(token_lists):
        seen = list(truncate(list(tokens), max_len, truncate_from))
        seen_pairs = [(token, float(weights[row, position])) for position, token in enumerate(seen)]
        pairs.append(pieces_to_words(seen_pairs) if pieces else seen_pairs)
    return np.asarray(outputs), pairs
