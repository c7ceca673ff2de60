"""A classifier embedding's initial weights: word vectors trained on the train split's own tokens
(gensim Word2Vec or FastText), or read from a local vectors file (``model.embedding_init``).

Corpus-trained vectors are cached by the features folder (whose key covers the data, the text
settings and the vocabulary) and the training settings, under ``<data_root>/processed/embeddings/``;
every architecture of a run and every rerun on the same data reuses them.
"""

from __future__ import annotations

import importlib.metadata
import logging
import time
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pipeline.config import ConfigError, PipelineConfig
from pipeline.io import atomic_path, digest_strings, read_json
from pipeline.text.subword import word_of_piece

log = logging.getLogger(__name__)

# The usual settings for short texts; 5 passes over the train split. Skip-gram or CBOW (gensim's
# ``sg``) is model.embedding_algorithm's.
CORPUS_VECTOR_SETTINGS = {"window": 5, "negative": 5, "epochs": 5, "min_count": 1}
SG = {"skip_gram": 1, "cbow": 0}
# Words without a vector start as Keras' Embedding does: uniform in +-0.05.
RANDOM_SCALE = 0.05


@dataclass(frozen=True)
class InitialEmbedding:
    matrix: np.ndarray      # (vocab_size, embedding_dim); row 0 (padding) zero
    coverage: float         # share of the vocabulary (past padding and OOV) that got a vector
    source: str             # "word2vec trained on the train split's tokens", or the vectors file
    seconds: float          # training or reading time (0 on a cache hit)
    path: Path | None       # the cached matrix, when trained on the corpus


def _stable_hash(text: str) -> int:
    """gensim seeds each word's starting vector from a hash of the word; Python's own ``hash`` of a
    string changes with every process, which would make the vectors differ from run to run."""
    return zlib.crc32(text.encode("utf-8"))


def initial_embedding(config: PipelineConfig, features_dir: str | Path) -> InitialEmbedding | None:
    """The embedding's starting weights for ``model.embedding_init``, or None for random weights."""
    method = config.model.embedding_init
    if method == "random":
        return None
    dim = config.model.embedding_dim
    tokens = vocab_tokens(features_dir)
    if method == "file":
        started = time.perf_counter()
        vectors = read_vectors_file(Path(config.model.embedding_vectors_path), dim)
        if config.text.subword_vocab_size:
            # A file has word vectors: a piece that spells a whole word (▁영화) starts from that
            # word's vector; pieces inside words start random (coverage counts only the former).
            tokens = [word_of_piece(token) for token in tokens]
        matrix, coverage = aligned_matrix(tokens, vectors, dim, config.train.seed)
        return InitialEmbedding(matrix, coverage, str(config.model.embedding_vectors_path),
                                time.perf_counter() - started, None)
    algorithm = config.model.embedding_algorithm
    # "sg" in the key as before the algorithm was a setting, so skip-gram caches stay hits.
    settings = {**CORPUS_VECTOR_SETTINGS, "sg": SG[algorithm], "method": method, "dim": dim,
                "seed": config.train.seed, "gensim": importlib.metadata.version("gensim")}
    key = digest_strings(Path(features_dir).name, repr(sorted(settings.items())))
    path = config.data_dir() / "processed" / "embeddings" / f"{method}-{key}.npz"
    if path.is_file():
        with np.load(path) as cached:
            log.info("%s vectors cache hit: %s", method, path)
            return InitialEmbedding(cached["matrix"], float(cached["coverage"]), _described(method, algorithm), 0.0,
                                    path)
    started = time.perf_counter()
    vectors = train_corpus_vectors(method, _train_sentences(features_dir), dim, config.train.seed, algorithm)
    matrix, coverage = aligned_matrix(tokens, vectors, dim, config.train.seed)
    seconds = time.perf_counter() - started
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as out:
            np.savez(out, matrix=matrix, coverage=coverage)
    log.info("%s vectors trained on the train split in %.1f s: %.1f%% of the vocabulary -> %s",
             method, seconds, 100 * coverage, path)
    return InitialEmbedding(matrix, coverage, _described(method, algorithm), seconds, path)


def _described(method: str, algorithm: str) -> str:
    return f"{method} ({algorithm.replace('_', '-')}) trained on the train split's tokens"


def _train_sentences(features_dir: str | Path) -> list[list[str]]:
    from pipeline.kinds.classification.features import split_tokens

    return [joined.split() for joined in split_tokens(features_dir, "train")]


def train_corpus_vectors(method: str, sentences: list[list[str]], dim: int, seed: int,
                         algorithm: str = "skip_gram"):
    """gensim KeyedVectors trained on ``sentences`` by ``algorithm`` ("skip_gram" or "cbow"). One
    worker thread: with several, the result depends on thread timing, and a run must be
    reproducible from its seed."""
    from gensim.models import FastText, Word2Vec

    logging.getLogger("gensim").setLevel(logging.WARNING)  # a progress line per second otherwise
    model_class = {"word2vec": Word2Vec, "fasttext": FastText}[method]
    model = model_class(sentences=sentences, vector_size=dim, seed=seed, workers=1, hashfxn=_stable_hash,
                        sg=SG[algorithm], **CORPUS_VECTOR_SETTINGS)
    return model.wv


def read_vectors_file(path: Path, dim: int):
    """A word2vec-format vectors file (text, or binary when it ends in ``.bin``), checked against
    the embedding's size; a file that is missing or unreadable is a config error naming it."""
    from gensim.models import KeyedVectors

    if not path.is_file():
        raise ConfigError(f"model.embedding_vectors_path: {path}: no such file")
    try:
        vectors = KeyedVectors.load_word2vec_format(str(path), binary=path.suffix == ".bin", unicode_errors="replace")
    except Exception as exc:  # gensim raises ValueError, UnicodeDecodeError, EOFError... for a bad file
        raise ConfigError(f"model.embedding_vectors_path: {path}: not a word2vec-format vectors file "
                          f"({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''})") from None
    if vectors.vector_size != dim:
        raise ConfigError(f"model.embedding_vectors_path: {path} has {vectors.vector_size}-dimensional vectors; "
                          f"model.embedding_dim is {dim}: set it to {vectors.vector_size}")
    return vectors


def aligned_matrix(tokens: list[str | None], vectors, dim: int, seed: int) -> tuple[np.ndarray, float]:
    """Row ``i`` is the vector of vocabulary token ``i`` where ``vectors`` has it, else random; row 0
    (padding) is zero. Coverage counts the tokens past padding and OOV that got a vector."""
    rng = np.random.default_rng(seed)
    matrix = rng.uniform(-RANDOM_SCALE, RANDOM_SCALE, (len(tokens), dim)).astype(np.float32)
    matrix[0] = 0.0
    found = 0
    for row, token in enumerate(tokens[2:], start=2):
        if token in vectors.key_to_index:
            matrix[row] = vectors[token]
            found += 1
    return matrix, found / max(1, len(tokens) - 2)


def vocab_tokens(features_dir: str | Path) -> list[str]:
    """The features' vocabulary, by id."""
    from pipeline.kinds.classification.features import VOCAB_FILE
    from pipeline.text.vocab import Vocabulary

    return list(Vocabulary.from_dict(read_json(Path(features_dir) / VOCAB_FILE)).tokens)
