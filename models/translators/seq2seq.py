"""seq2seq: the plain LSTM encoder-decoder: the encoder's final state is all the decoder sees."""

from __future__ import annotations

import keras

from models.config import ModelConfig
from models.seq2seq import build_seq2seq


def build(config: ModelConfig, source_vocab: int, target_vocab: int) -> keras.Model:
    return build_seq2seq(source_vocab, target_vocab, config.embedding_dim, config.units, attention=None,
                         bidirectional=config.bidirectional_encoder, dropout_rate=config.dropout_rate,
                         name="seq2seq")
