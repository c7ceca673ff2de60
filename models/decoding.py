"""Greedy and beam-search decoding over ``InferenceModels``, batched, with a maximum-length guard.

Both return, per source row, the output token ids (without ``<eos>``) and the attention weights
``(output length, source length)`` that produced them (zeros for a model without attention).
Beam search keeps ``beam_width`` hypotheses per sentence, finalises one when ``<eos>`` ranks among
the best ``beam_width`` candidates (so width 1 is exactly greedy) and ranks finished hypotheses
by log-probability over GNMT's length penalty ``((5 + length) / 6) ** length_penalty``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from models.seq2seq import InferenceModels


@dataclass(frozen=True)
class Decoded:
    ids: list[int]
    attention: np.ndarray  # (len(ids), source length)
    score: float           # log-probability (greedy) or its length-normalised value (beam)


def _numpy(values) -> list[np.ndarray]:
    from keras import ops

    return [ops.convert_to_numpy(value) for value in values]


def _encode(models: InferenceModels, source_ids: np.ndarray):
    outputs, h, c = _numpy(models.encoder(source_ids, training=False))
    return outputs, h, c, source_ids != 0


def _step(models: InferenceModels, tokens: np.ndarray, h, c, outputs, mask):
    return _numpy(models.step([tokens[:, None].astype("int32"), h, c, outputs, mask], training=False))


def greedy_decode(models: InferenceModels, source_ids: np.ndarray, sos_id: int, eos_id: int, max_len: int,
                  batch_size: int = 256) -> list[Decoded]:
    results: list[Decoded] = []
    for start in range(0, len(source_ids), batch_size):
        batch = np.asarray(source_ids[start:start + batch_size], dtype=np.int32)
        outputs, h, c, mask = _encode(models, batch)
        tokens = np.full(len(batch), sos_id, dtype=np.int32)
        done = np.zeros(len(batch), dtype=bool)
        ids = [[] for _ in batch]
        attention = [[] for _ in batch]
        scores = np.zeros(len(batch))
        for _ in range(max_len):
            probabilities, h, c, weights = _step(models, tokens, h, c, outputs, mask)
            tokens = probabilities.argmax(axis=1).astype(np.int32)
            for row in np.flatnonzero(~done):
                scores[row] += np.log(max(float(probabilities[row, tokens[row]]), 1e-12))
                if tokens[row] == eos_id:
                    done[row] = True
                else:
                    ids[row].append(int(tokens[row]))
                    attention[row].append(weights[row])
            if done.all():
                break
        results.extend(Decoded(row_ids, _stack(row_attention, batch.shape[1]), float(score))
                       for row_ids, row_attention, score in zip(ids, attention, scores))
    return results


def _best_candidates(flat: np.ndarray, count: int) -> np.ndarray:
    """Per row, the indices of the ``count`` highest scores, best first, ties by lower index.

    As ``np.argsort(-flat, kind="stable")[:, :count]`` (except which of several scores tied exactly at
    the cut is kept), but only the winners are sorted: a full sort of k x vocabulary scores at every
    step cost 58 ms against 13 ms for 12 rows x 5 x 8,818 (median of 5, fra-eng's vocabulary)."""
    count = min(count, flat.shape[1])
    top = np.argpartition(-flat, count - 1, axis=1)[:, :count]
    order = np.lexsort((top, -np.take_along_axis(flat, top, axis=1)), axis=1)
    return np.take_along_axis(top, order, axis=1)


def length_penalty(length: int, alpha: float) -> float:
    return ((5.0 + length) / 6.0) ** alpha


def beam_decode(models: InferenceModels, source_ids: np.ndarray, sos_id: int, eos_id: int, max_len: int,
                beam_width: int = 5, alpha: float = 1.0, batch_size: int = 64) -> list[Decoded]:
    if beam_width < 1:
        raise ValueError(f"beam_width={beam_width}: must be at least 1")
    results: list[Decoded] = []
    k = beam_width
    for start in range(0, len(source_ids), batch_size):
        batch = np.asarray(source_ids[start:start + batch_size], dtype=np.int32)
        n, source_len = batch.shape
        outputs, h, c, mask = (np.repeat(array, k, axis=0) for array in _encode(models, batch))  # (n * k, ...)
        scores = np.full((n, k), -np.inf)
        scores[:, 0] = 0.0  # at the start, all beams are the same: expand only the first
        tokens = np.full(n * k, sos_id, dtype=np.int32)
        histories = [[[] for _ in range(k)] for _ in range(n)]    # token ids per beam
        attentions = [[[] for _ in range(k)] for _ in range(n)]   # weight rows per beam
        finished: list[list[Decoded]] = [[] for _ in range(n)]
        for _ in range(max_len):
            probabilities, h, c, weights = _step(models, tokens, h, c, outputs, mask)
            vocab = probabilities.shape[1]
            totals = scores[:, :, None] + np.log(np.maximum(probabilities, 1e-12)).reshape(n, k, vocab)
            flat = totals.reshape(n, k * vocab)
            candidates = _best_candidates(flat, 2 * k)
            new_scores = np.full((n, k), -np.inf)
            parents = np.zeros((n, k), dtype=np.int64)
            new_tokens = np.full((n, k), eos_id, dtype=np.int32)
            new_histories = [[[] for _ in range(k)] for _ in range(n)]
            new_attentions = [[[] for _ in range(k)] for _ in range(n)]
            for row in range(n):
                if len(finished[row]) >= k:
                    continue
                alive = 0
                for rank, index in enumerate(candidates[row]):
                    score = flat[row, index]
                    if not np.isfinite(score):
                        break
                    beam, token = divmod(int(index), vocab)
                    if token == eos_id:
                        if rank < k:  # eos among the best k: a finished hypothesis
                            length = len(histories[row][beam])
                            finished[row].append(Decoded(list(histories[row][beam]),
                                                         _stack(attentions[row][beam], source_len),
                                                         float(score) / length_penalty(length + 1, alpha)))
                        continue
                    parents[row, alive] = beam
                    new_tokens[row, alive] = token
                    new_scores[row, alive] = score
                    new_histories[row][alive] = histories[row][beam] + [token]
                    new_attentions[row][alive] = attentions[row][beam] + [weights[row * k + beam]]
                    alive += 1
                    if alive == k:
                        break
            if all(len(done) >= k for done in finished):
                break
            order = (np.arange(n)[:, None] * k + parents).reshape(-1)
            h, c = h[order], c[order]
            scores, tokens = new_scores, new_tokens.reshape(-1)
            histories, attentions = new_histories, new_attentions
        for row in range(n):
            if len(finished[row]) < k:  # the length guard stopped it: alive beams compete too
                for beam in range(k):
                    if np.isfinite(scores[row, beam]):
                        finished[row].append(Decoded(list(histories[row][beam]),
                                                     _stack(attentions[row][beam], source_len),
                                                     float(scores[row, beam]) /
                                                     length_penalty(len(histories[row][beam]), alpha)))
            results.append(max(finished[row], key=lambda hypothesis: hypothesis.score))
    return results


def _stack(rows: list[np.ndarray], source_len: int) -> np.ndarray:
    return np.stack(rows) if rows else np.zeros((0, source_len), dtype=np.float32)
