"""Translation stages: pairs -> token ids (a vocabulary per side) -> encoder-decoder -> BLEU / chrF.

Preprocess writes ``features.npz`` (``x_<split>`` source ids, ``decoder_in_<split>`` =
``<sos> y``, ``decoder_out_<split>`` = ``y <eos>``, ``row_<split>``), ``source_vocab.json``,
``target_vocab.json`` and ``text_spec.json``: everything the served translator needs.
Evaluation decodes the whole test split greedily and with beam search and scores both with
sacrebleu against the references as the target side's cleaner leaves them (lower-cased, NFC).
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline.config import PipelineConfig
from pipeline.io import atomic_dir, digest_strings, read_json, write_json
from pipeline.preprocess import FEATURES_FILE, SPLITS, SUMMARY_FILE, TEXT_SPEC_FILE
from pipeline.text.parallel import cached_tokenize, token_cache_key
from pipeline.text.processor import TextProcessor
from pipeline.text.subword import SubwordModel
from pipeline.text.vocab import (EOS_TOKEN, SEQ2SEQ_RESERVED, SOS_TOKEN, Vocabulary, length_at_percentile,
                                 pad_ids, truncate)

log = logging.getLogger(__name__)

# The feature folder's shared file names come from the classification stage: one place for each.
SOURCE_VOCAB_FILE = "source_vocab.json"
TARGET_VOCAB_FILE = "target_vocab.json"
TARGET_SUBWORD_FILE = "target_subwords.model"
PREPROCESS_VERSION = "1"
SAMPLE_TRANSLATIONS = 50
ALIGNMENT_EXAMPLES = 6
# Heatmaps show at most this many output tokens: a degenerate model's 50-token loops made a
# 4,500-pixel figure nobody could read.
ALIGNMENT_MAX_OUTPUT = 30


@dataclass(frozen=True)
class TranslationPrepared:
    features_dir: str
    source_vocab_size: int
    target_vocab_size: int
    source_len: int
    target_len: int
    max_output_len: int
    rows: dict[str, int]
    token_cache_hit: bool
    tokenize_seconds: float

    def to_xcom(self) -> dict:
        return asdict(self)

    def params(self) -> dict:
        return {"source_vocab_size": self.source_vocab_size, "target_vocab_size": self.target_vocab_size,
                "source_len": self.source_len, "target_len": self.target_len}


def run_preprocess_pairs(config: PipelineConfig, table_path: str, table_digest: str) -> TranslationPrepared:
    source_text, target_text = config.text, config.target_text
    source_key = token_cache_key(f"{table_digest}:source", source_text)
    target_key = token_cache_key(f"{table_digest}:target", target_text)
    settings = {side: text.model_dump(include={"min_freq", "max_vocab", "max_len", "max_len_percentile",
                                               "truncate_from", "subword_vocab_size"})
                for side, text in (("source", source_text), ("target", target_text))}
    key = digest_strings(source_key, target_key, repr(settings), str(config.decode.max_extra_tokens),
                         PREPROCESS_VERSION)
    out_dir = config.data_dir() / "processed" / "features" / key
    if (out_dir / SUMMARY_FILE).is_file():
        log.info("features cache hit: %s", out_dir)
        return TranslationPrepared(**{**read_json(out_dir / SUMMARY_FILE), "token_cache_hit": True,
                                      "tokenize_seconds": 0.0})

    table = pd.read_parquet(table_path)
    cache_dir = config.data_dir() / "processed" / "tokens"
    start = time.perf_counter()
    source_tokens, source_hit = cached_tokenize(table["source"].tolist(), source_text, f"{table_digest}:source",
                                                cache_dir)
    target_tokens, target_hit = cached_tokenize(table["target"].tolist(), target_text, f"{table_digest}:target",
                                                cache_dir)
    tokenize_seconds = time.perf_counter() - start
    source_lists = [joined.split() for joined in source_tokens]
    target_lists = [joined.split() for joined in target_tokens]
    is_train = (table["split"] == "train").to_numpy()
    train_sources = [tokens for tokens, keep in zip(source_lists, is_train) if keep]
    train_targets = [tokens for tokens, keep in zip(target_lists, is_train) if keep]
    subwords = None
    if target_text.subword_vocab_size:
        subwords = SubwordModel.train(train_targets, target_text.subword_vocab_size)
        target_lists = [subwords.pieces(tokens) for tokens in target_lists]
        train_targets = [tokens for tokens, keep in zip(target_lists, is_train) if keep]
    source_vocab = Vocabulary.fit(train_sources, source_text.min_freq, source_text.max_vocab, SEQ2SEQ_RESERVED)
    target_vocab = Vocabulary.fit(train_targets, target_text.min_freq, target_text.max_vocab, SEQ2SEQ_RESERVED)
    source_len = source_text.max_len or length_at_percentile([len(t) for t in train_sources],
                                                             source_text.max_len_percentile)
    # Targets get one more step: <sos> in front of the decoder input, <eos> after the output.
    target_len = (target_text.max_len or length_at_percentile([len(t) for t in train_targets],
                                                              target_text.max_len_percentile)) + 1
    sos, eos = target_vocab.id_of(SOS_TOKEN), target_vocab.id_of(EOS_TOKEN)
    arrays, rows = {}, {}
    for split in SPLITS:
        mask = (table["split"] == split).to_numpy()
        sources = [source_vocab.encode(t) for t, keep in zip(source_lists, mask) if keep]
        targets = [list(truncate(target_vocab.encode(t), target_len - 1, "end"))
                   for t, keep in zip(target_lists, mask) if keep]
        arrays[f"x_{split}"] = pad_ids(sources, source_len, source_text.truncate_from)
        arrays[f"decoder_in_{split}"] = pad_ids([[sos, *ids] for ids in targets], target_len, "end")
        arrays[f"decoder_out_{split}"] = pad_ids([[*ids, eos] for ids in targets], target_len, "end")
        arrays[f"row_{split}"] = np.flatnonzero(mask)
        rows[split] = int(mask.sum())
    max_output_len = max(len(t) for t in train_targets) + config.decode.max_extra_tokens
    result = TranslationPrepared(str(out_dir), len(source_vocab), len(target_vocab), int(source_len),
                                 int(target_len), int(max_output_len), rows, source_hit and target_hit,
                                 round(tokenize_seconds, 3))
    text_spec = {
        "task": "translation",
        "source_text_config": source_text.model_dump(mode="json"),
        "target_text_config": target_text.model_dump(mode="json"),
        "source_processor": TextProcessor.from_config(source_text).identity(),
        "target_processor": TextProcessor.from_config(target_text).identity(),
        "source_len": int(source_len), "target_len": int(target_len), "max_output_len": int(max_output_len),
        "decode": config.decode.model_dump(mode="json"),
        "table_path": str(table_path),
    }
    with atomic_dir(out_dir) as tmp:
        np.savez(tmp / FEATURES_FILE, **arrays)
        write_json(tmp / SOURCE_VOCAB_FILE, source_vocab.to_dict())
        write_json(tmp / TARGET_VOCAB_FILE, target_vocab.to_dict())
        write_json(tmp / TEXT_SPEC_FILE, text_spec)
        if subwords is not None:  # a record of how the targets were split; serving joins pieces without it
            (tmp / TARGET_SUBWORD_FILE).write_bytes(subwords.model_bytes)
        write_json(tmp / SUMMARY_FILE, {**asdict(result), "features_dir": str(out_dir)})
    log.info("translation features: %s rows, vocab %d -> %d, lengths %d -> %d, into %s", rows, len(source_vocab),
             len(target_vocab), source_len, target_len, out_dir)
    return result


def build_and_compile(config: PipelineConfig, prepared: TranslationPrepared, arch: str):
    import keras

    from models.registry import build_translator

    model = build_translator(arch, config.model, prepared.source_vocab_size, prepared.target_vocab_size)
    # The decoder's padding mask reaches the loss: padded target steps add nothing.
    model.compile(optimizer=keras.optimizers.Adam(config.train.learning_rate, clipnorm=1.0),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


@dataclass(frozen=True)
class TranslationSet:
    """Sources, references and the decoder's special ids for one split."""

    source_ids: np.ndarray
    sources: list[str]
    references: list[str]
    sos: int
    eos: int

    def by_source(self) -> tuple[np.ndarray, list[list[str]]]:
        """The rows to translate and, for each, every reference the split holds for its source.

        Parallel corpora repeat a source with different translations (fra.txt: 1,706 of 4,920 test
        sources have 2-12). Scored row by row, one output would be compared with each translation
        separately and counted once per repeat; scored once per source against all of them, an
        output that matches any translation counts as it should (multi-reference BLEU).
        """
        first_row: dict[str, int] = {}
        references: dict[str, list[str]] = {}
        for row, (source, reference) in enumerate(zip(self.sources, self.references)):
            first_row.setdefault(source, row)
            references.setdefault(source, []).append(reference)
        return np.array(list(first_row.values()), dtype=int), list(references.values())


def load_split(features_dir: str | Path, split: str) -> TranslationSet:
    from pipeline.config import TextConfig
    from pipeline.text.cleaning import TextCleaner

    features_dir = Path(features_dir)
    spec = read_json(features_dir / TEXT_SPEC_FILE)
    target_vocab = Vocabulary.from_dict(read_json(features_dir / TARGET_VOCAB_FILE))
    with np.load(features_dir / FEATURES_FILE) as arrays:
        source_ids, rows = arrays[f"x_{split}"], arrays[f"row_{split}"]
    table = pd.read_parquet(spec["table_path"], columns=["source", "target"])
    target_config = TextConfig.model_validate(spec["target_text_config"])
    cleaner = TextCleaner(target_config.keep, target_config.lowercase, target_config.max_char_repeat)
    return TranslationSet(source_ids, table["source"].to_numpy()[rows].tolist(),
                          [cleaner(text) for text in table["target"].to_numpy()[rows]],
                          target_vocab.id_of(SOS_TOKEN), target_vocab.id_of(EOS_TOKEN))


def corpus_scores(hypotheses: list[str], references: list[list[str]]) -> dict[str, float]:
    """Corpus BLEU and chrF (sacrebleu), each hypothesis against its own list of references."""
    import sacrebleu

    if len(hypotheses) != len(references):
        raise ValueError(f"{len(hypotheses)} hypotheses for {len(references)} reference lists")
    depth = max((len(refs) for refs in references), default=1)
    # sacrebleu takes reference *streams*; None where a segment has fewer references.
    streams = [[refs[k] if k < len(refs) else None for refs in references] for k in range(depth)]
    return {"bleu": float(sacrebleu.corpus_bleu(hypotheses, streams).score),
            "chrf": float(sacrebleu.corpus_chrf(hypotheses, streams).score)}


def evaluate_translator(config: PipelineConfig, prepared: TranslationPrepared, model, arch: str,
                        log_to_mlflow: bool = True) -> dict[str, float]:
    """Greedy and beam search over the test split; ``bleu``/``chrf`` are the served decoding's."""
    from models.decoding import beam_decode, greedy_decode
    from models.seq2seq import InferenceModels, has_attention
    from pipeline.text.tokenizers import detokenize

    test = load_split(prepared.features_dir, "test")
    rows, reference_sets = test.by_source()
    source_ids = test.source_ids[rows]
    target_vocab = Vocabulary.from_dict(read_json(Path(prepared.features_dir) / TARGET_VOCAB_FILE))
    inference = InferenceModels.from_training_model(model)
    decode = config.decode
    outputs, scores = {}, {"sources": len(rows), "references": len(test.references)}
    for method in ("greedy", "beam"):
        start = time.perf_counter()
        if method == "greedy":
            decoded = greedy_decode(inference, source_ids, test.sos, test.eos, prepared.max_output_len,
                                    batch_size=decode.batch_size)
        else:
            decoded = beam_decode(inference, source_ids, test.sos, test.eos, prepared.max_output_len,
                                  beam_width=decode.beam_width, alpha=decode.length_penalty,
                                  batch_size=max(1, decode.batch_size // decode.beam_width))
        seconds = time.perf_counter() - start
        outputs[method] = decoded
        hypotheses = [detokenize(target_vocab.decode(d.ids), config.target_text) for d in decoded]
        for name, value in corpus_scores(hypotheses, reference_sets).items():
            scores[f"{name}_{method}"] = value
        scores[f"{method}_sentences_per_second"] = len(decoded) / seconds
        outputs[f"{method}_text"] = hypotheses
    served = "beam" if decode.beam_width > 1 else "greedy"
    scores["bleu"], scores["chrf"] = scores[f"bleu_{served}"], scores[f"chrf_{served}"]
    scores["inference_sentences_per_second"] = scores[f"{served}_sentences_per_second"]
    if log_to_mlflow:
        _log_evaluation(arch, prepared, test, rows, reference_sets, outputs, scores, has_attention(model),
                        target_vocab)
    return scores


def _log_evaluation(arch, prepared, test: TranslationSet, rows: np.ndarray, reference_sets: list[list[str]],
                    outputs, scores, attention: bool, target_vocab) -> None:
    """Metrics, sample translations and alignments; ``outputs`` follow ``rows`` (one per test source)."""
    import mlflow

    from pipeline.plots import alignment_heatmap

    mlflow.log_metrics({f"test_{name}": value for name, value in scores.items()})
    count = min(SAMPLE_TRANSLATIONS, len(rows))
    shown_at = np.unique(np.linspace(0, len(rows) - 1, count).round().astype(int))
    mlflow.log_table(pd.DataFrame({
        "source": [test.sources[rows[j]] for j in shown_at],
        "references": [" | ".join(reference_sets[j]) for j in shown_at],
        "greedy": [outputs["greedy_text"][j] for j in shown_at], "beam": [outputs["beam_text"][j] for j in shown_at],
    }), "evaluation/sample_translations.json")
    if attention:
        source_vocab = Vocabulary.from_dict(read_json(Path(prepared.features_dir) / SOURCE_VOCAB_FILE))
        examples = []
        for j in shown_at[: ALIGNMENT_EXAMPLES]:
            decoded, row = outputs["greedy"][j], rows[j]
            source_tokens = source_vocab.decode(test.source_ids[row])
            shown = decoded.ids[:ALIGNMENT_MAX_OUTPUT]
            more = f" (first {len(shown)} of {len(decoded.ids)} output tokens)" if len(shown) < len(decoded.ids) else ""
            examples.append({"source_tokens": source_tokens, "output_tokens": target_vocab.decode(shown),
                             "weights": decoded.attention[: len(shown), : len(source_tokens)].tolist(),
                             "caption": f"test row {int(row)}: {test.sources[row][:60]}{more}"})
        if any(example["output_tokens"] for example in examples):
            mlflow.log_dict(examples, "evaluation/alignments.json")
            mlflow.log_figure(alignment_heatmap([e for e in examples if e["output_tokens"]],
                                                f"{arch}: attention, source against output"),
                              "evaluation/alignment_heatmap.png")
