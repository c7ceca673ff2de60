"""Subword pieces (a classifier's input, a translation's target side): sentencepiece BPE learned
on the train split.

The word tokenizer runs first and its space-joined tokens are what sentencepiece learns from and
splits, so a piece never crosses a token boundary: ``▁`` marks where a token starts, and joining
the pieces (``detokenize``) gives back the space-separated word tokens that word-level models
output, so BLEU compares like with like. Rare words and inflections ("mangeons", "l'homme") share
pieces instead of becoming ``<unk>``, and the output softmax gets smaller.

Only the preprocessing needs the model: outputs are pieces, and pieces join without it.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Sequence

from pipeline.text.tokenizers import (
    SPACE_MARK as WORD_START,  # sentencepiece marks a token's first piece alike
)

log = logging.getLogger(__name__)


class SubwordModel:
    def __init__(self, model_bytes: bytes) -> None:
        import sentencepiece

        self.model_bytes = model_bytes
        self._processor = sentencepiece.SentencePieceProcessor(model_proto=model_bytes)

    @classmethod
    def train(cls, token_lists: Sequence[Sequence[str]], vocab_size: int, setting: str) -> SubwordModel:
        """BPE over the train split's tokens; deterministic for the same tokens and size.

        ``vocab_size`` is an upper bound: a small corpus may not have that many distinct pieces. It
        must cover every character (Korean text has thousands): a smaller one is a ConfigError
        naming ``setting`` and the least size that works."""
        import sentencepiece

        from pipeline.config import ConfigError

        sentences = [" ".join(tokens) for tokens in token_lists if tokens]
        if not sentences:
            raise ValueError("subword model: the train split has no tokens to learn pieces from")
        # Every character is a piece of its own, plus the word-start mark and sentencepiece's <unk>.
        least = len(set().union(*map(set, sentences)) - {" "}) + 2
        if vocab_size < least:
            raise ConfigError(f"{setting}: {vocab_size} pieces cannot cover the {least - 2:,} distinct characters "
                              f"of the train split; ask for at least {least:,}")
        model = io.BytesIO()
        sentencepiece.SentencePieceTrainer.train(
            sentence_iterator=iter(sentences), model_writer=model, vocab_size=vocab_size, model_type="bpe",
            # The cleaner already normalised the text; sentencepiece's NFKC would change it again.
            normalization_rule_name="identity", character_coverage=1.0, hard_vocab_limit=False,
            input_sentence_size=0, shuffle_input_sentence=False, num_threads=1, minloglevel=2,
            # Our Vocabulary adds <pad>/<unk>/<sos>/<eos>; sentencepiece's own specials are unused.
            bos_id=-1, eos_id=-1, unk_id=0)
        trained = cls(model.getvalue())
        log.info("subword model: %d pieces (asked for at most %d) from %d sentences",
                 trained.size, vocab_size, len(sentences))
        return trained

    @property
    def size(self) -> int:
        return self._processor.get_piece_size()

    def pieces(self, tokens: Sequence[str]) -> list[str]:
        return self._processor.encode(" ".join(tokens), out_type=str) if tokens else []


def word_of_piece(piece: str) -> str | None:
    """The whole token a word-start piece (``▁영화``) spells, None for a piece inside a token."""
    return (piece[len(WORD_START):] or None) if piece.startswith(WORD_START) else None


def pieces_to_words(pairs: Sequence[tuple[str, float]]) -> list[tuple[str, float]]:
    """(piece, value) pairs joined into (token, summed value) pairs: a new token at every word-start
    piece, so attention over pieces reads as attention over the tokenizer's own words."""
    words: list[tuple[str, float]] = []
    for piece, value in pairs:
        if piece.startswith(WORD_START) or not words:
            words.append((piece.removeprefix(WORD_START), value))
        else:
            word, total = words[-1]
            words[-1] = (word + piece, total + value)
    return words
