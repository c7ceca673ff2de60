"""Translation preprocessing: a vocabulary per side with <sos>/<eos>, shifted decoder arrays, char level."""

from pathlib import Path

import numpy as np
import pytest

from pipeline.config import ConfigError, TextConfig, load_config
from pipeline.io import read_json
from pipeline.kinds.translation.evaluation import (
    TranslationSet,
    corpus_scores,
    load_split,
)
from pipeline.kinds.translation.features import (
    SOURCE_VOCAB_FILE,
    TARGET_SUBWORD_FILE,
    TARGET_VOCAB_FILE,
)
from pipeline.results import FEATURES_FILE
from pipeline.stages.ingest import run_ingest
from pipeline.stages.preprocess import run_preprocess
from pipeline.text.subword import SubwordModel
from pipeline.text.tokenizers import detokenize, make_tokenizer
from pipeline.text.vocab import EOS_TOKEN, SOS_TOKEN, Vocabulary

PAIRS = [("Go.", "Va !"), ("Run!", "Cours !"), ("I see.", "Je vois."), ("Hello!", "Bonjour !"),
         ("I won!", "J'ai gagné !"), ("Thanks.", "Merci."), ("Come in.", "Entrez."), ("Get up.", "Lève-toi.")] * 3


WORDS = {"target_text.subword_vocab_size": None}  # whole-word targets instead of the default pieces


def _config(tmp_path, **overrides):
    path = tmp_path / "fra.txt"
    path.write_text("".join(f"{en} {i}\t{fr} {i}\n" for i, (en, fr) in enumerate(PAIRS)), encoding="utf-8")
    return load_config("aihub_translation", {
        "data_root": str(tmp_path / "data"), "corpus.source": str(path), "corpus.name": "tsv_pairs",
        "corpus.source_lang": "en", "corpus.target_lang": "fr", "text.tokenizer": "english", "text.keep": "all",
        "text.workers": 1, "target_text.workers": 1, "text.min_freq": 1, "target_text.min_freq": 1,
        "corpus.valid_fraction": 0.1, "corpus.test_fraction": 0.2, **overrides})


def _prepare(config):
    ingested = run_ingest(config)
    return run_preprocess(config, ingested)


def test_decoder_arrays_are_teacher_forcing_shifts_with_sos_and_eos(tmp_path):
    prepared = _prepare(_config(tmp_path, **WORDS))
    target_vocab = Vocabulary.from_dict(read_json(f"{prepared.features_dir}/{TARGET_VOCAB_FILE}"))
    source_vocab = Vocabulary.from_dict(read_json(f"{prepared.features_dir}/{SOURCE_VOCAB_FILE}"))
    assert source_vocab.tokens[:4] == target_vocab.tokens[:4] == ("<pad>", "<unk>", SOS_TOKEN, EOS_TOKEN)
    sos, eos = target_vocab.id_of(SOS_TOKEN), target_vocab.id_of(EOS_TOKEN)
    with np.load(f"{prepared.features_dir}/{FEATURES_FILE}") as arrays:
        decoder_in, decoder_out = arrays["decoder_in_train"], arrays["decoder_out_train"]
    assert (decoder_in[:, 0] == sos).all()
    for row_in, row_out in zip(decoder_in, decoder_out):
        length = int((row_out > 0).sum())
        assert row_out[length - 1] == eos and (row_in[1:length] == row_out[: length - 1]).all()
    assert target_vocab.decode(decoder_out[0][:3])[:2] != ["<unk>", "<unk>"]
    assert "!" in target_vocab.tokens  # the target side keeps punctuation as tokens
    assert _prepare(_config(tmp_path, **WORDS)).token_cache_hit  # a rerun reuses the features


def test_character_level_option(tmp_path):
    char_targets = {"target_text.tokenizer": "chars", "target_text.tokenizer_options": {}}
    with pytest.raises(ConfigError, match="target_text.subword_vocab_size"):
        _config(tmp_path, **char_targets)  # characters are not split into pieces: the default must be turned off
    prepared = _prepare(_config(tmp_path, **char_targets, **WORDS))
    target_vocab = Vocabulary.from_dict(read_json(f"{prepared.features_dir}/{TARGET_VOCAB_FILE}"))
    assert {"v", "a", "▁", "!"} <= set(target_vocab.tokens)
    chars = make_tokenizer("chars").tokenize("va !")
    assert detokenize(chars, TextConfig(tokenizer="chars")) == "va !"


def test_subword_option_splits_targets_into_pieces_that_join_back_to_the_words(tmp_path):
    words = _prepare(_config(tmp_path, **WORDS))
    assert _config(tmp_path).target_text.subword_vocab_size  # pieces are the translation default
    config = _config(tmp_path, **{"target_text.subword_vocab_size": 40})
    prepared = _prepare(config)
    assert prepared.features_dir != words.features_dir  # its own features, not the word-level cache
    assert (Path(prepared.features_dir) / TARGET_SUBWORD_FILE).is_file()
    target_vocab = Vocabulary.from_dict(read_json(f"{prepared.features_dir}/{TARGET_VOCAB_FILE}"))
    word_vocab = Vocabulary.from_dict(read_json(f"{words.features_dir}/{TARGET_VOCAB_FILE}"))
    assert any(token.startswith("▁") for token in target_vocab.tokens)
    with np.load(f"{prepared.features_dir}/{FEATURES_FILE}") as arrays, \
            np.load(f"{words.features_dir}/{FEATURES_FILE}") as word_arrays:
        pieces, word_ids = arrays["decoder_out_train"], word_arrays["decoder_out_train"]
    assert len(pieces) == len(word_ids) == prepared.rows["train"]
    eos, word_eos = target_vocab.id_of(EOS_TOKEN), word_vocab.id_of(EOS_TOKEN)
    split_words = 0
    for piece_row, word_row in zip(pieces, word_ids):
        piece_tokens = target_vocab.decode(piece_row[: list(piece_row).index(eos)])
        word_tokens = word_vocab.decode(word_row[: list(word_row).index(word_eos)])
        # Every train piece is in the vocabulary, and the pieces join back to the row's words.
        assert "<unk>" not in piece_tokens
        assert detokenize(piece_tokens, config.target_text) == " ".join(word_tokens)
        split_words += len(piece_tokens) > len(word_tokens)
    assert split_words > 0  # 40 pieces cannot hold every word whole


def test_subword_model_is_deterministic_and_only_for_targets(tmp_path):
    token_lists = [text.lower().split() for _, text in PAIRS]
    first, second = (SubwordModel.train(token_lists, 30, "target_text.subword_vocab_size"),
                     SubwordModel.train(token_lists, 30, "target_text.subword_vocab_size"))
    assert first.model_bytes == second.model_bytes
    assert "".join(first.pieces(["lève-toi", "!"])).replace("▁", " ").strip() == "lève-toi !"
    with pytest.raises(ConfigError, match="text.subword_vocab_size"):
        _config(tmp_path, **{"text.subword_vocab_size": 40})


def test_references_are_the_cleaned_targets_and_bleu_is_sacrebleu(tmp_path):
    config = _config(tmp_path)
    prepared = _prepare(config)
    test = load_split(prepared.features_dir, "test")
    assert len(test.sources) == len(test.references) == prepared.rows["test"]
    assert all(reference == reference.lower() for reference in test.references)
    assert corpus_scores(test.references, [[r] for r in test.references])["bleu"] == pytest.approx(100.0)


def test_a_repeated_source_is_scored_once_against_all_its_references():
    import sacrebleu

    test = TranslationSet(np.zeros((5, 2), dtype=int), ["i'm busy .", "hello there .", "i'm busy .", "run now !",
                                                        "i'm busy ."],
                          ["je suis occupé .", "salut à toi .", "je suis très occupée .", "cours maintenant !",
                           "j'ai à faire ."], sos=2, eos=3)
    rows, references = test.by_source()
    assert rows.tolist() == [0, 1, 3]
    assert references == [["je suis occupé .", "je suis très occupée .", "j'ai à faire ."], ["salut à toi ."],
                          ["cours maintenant !"]]
    # One output per source; the first matches the second reference of "i'm busy ." exactly.
    hypotheses = ["je suis très occupée .", "salut à toi .", "cours maintenant !"]
    scores = corpus_scores(hypotheses, references)
    expected = sacrebleu.corpus_bleu(hypotheses, [["je suis occupé .", "salut à toi .", "cours maintenant !"],
                                                  ["je suis très occupée .", None, None],
                                                  ["j'ai à faire .", None, None]]).score
    assert scores["bleu"] == pytest.approx(expected) == pytest.approx(100.0)
    # Against the first reference alone, the correct first output loses its 4-grams.
    assert scores["bleu"] > corpus_scores(hypotheses, [[refs[0]] for refs in references])["bleu"]
    with pytest.raises(ValueError, match="2 hypotheses for 3"):
        corpus_scores(hypotheses[:2], references)
