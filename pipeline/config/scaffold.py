"""``rnnflow init --source data.csv``: look at a user's table and write a starter pipeline YAML.

The guesses (header or not, encoding, which column is the text and which the label, Korean or
English) are written as comments beside the fields they set, with the label counts, so a person
can check them before the first run. The YAML is validated before it is written.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path

from pipeline.corpora.errors import CorpusFormatError
from pipeline.corpora.tables import (
    ENCODINGS,
    ROW,
    TableFiles,
    decode,
    load_table,
    table_format,
)

HANGUL = re.compile(r"[\uac00-\ud7a3]")
LABEL_NAMES = ("label", "labels", "class", "category", "sentiment", "target", "y", "tag", "topic", "intent")
TEXT_NAMES = ("text", "document", "review", "sentence", "content", "message", "body", "comment", "utterance")
# A label column has at most this many distinct values...
MAX_CLASSES = 100
SAMPLE_ROWS = 20000


@dataclass
class ColumnStats:
    name: str
    distinct: int
    mean_length: float
    hangul_share: float
    numeric: bool


@dataclass
class Sniffed:
    path: Path
    format: str
    encoding: str
    header: bool
    rows: int
    columns: list[ColumnStats]
    text_column: str
    label_column: str
    label_counts: dict[str, int]
    korean: bool


def sniff_encoding(path: Path) -> str:
    raw = path.read_bytes()[:1_000_000]
    if raw.startswith(b"\xef\xbb\xbf"):
        return "utf-8-sig"
    for encoding in ENCODINGS:
        try:
            raw.decode(encoding)
            return encoding
        except UnicodeDecodeError as exc:
            if encoding == "utf-8" and exc.start > len(raw) - 4:
                return encoding  # a character cut by the sample's end
    raise CorpusFormatError(f"{path}: none of {list(ENCODINGS)} decodes it")


def sniff_header(path: Path, fmt: str, encoding: str) -> bool:
    """Whether the first row names the columns. A label-like column (few distinct values) whose
    first cell also appears below is data, not a header ("ham" in an SMS file); known column names
    are a header; otherwise Python's csv sniffer decides."""
    if fmt in ("jsonl", "parquet"):
        return True
    frame = load_table(path, TableFiles(format=fmt, header=False, encoding=encoding)).drop(columns=[ROW])
    first, rest = frame.iloc[0], frame.iloc[1:SAMPLE_ROWS]
    evidence = 0
    for column in frame.columns:
        values = set(rest[column])
        if 2 <= len(values) <= MAX_CLASSES and len(rest) >= 2 * len(values):  # a label-like column
            if first[column] in values:
                return False
            evidence += 1
        if values and all(_is_number(value) for value in values if value) and not _is_number(first[column]):
            evidence += 1  # a word above a column of numbers
    if evidence or any(str(cell).strip().lower() in LABEL_NAMES + TEXT_NAMES for cell in first):
        return True
    if fmt == "xlsx":
        return all(cell and not cell.lstrip("-").replace(".", "", 1).isdigit() for cell in first)
    sample = decode(path.read_bytes()[:200_000], path, encoding) if encoding != "utf-8" else \
        path.read_bytes()[:200_000].decode("utf-8", errors="ignore")
    try:
        return csv.Sniffer().has_header("\n".join(sample.splitlines()[:50]))
    except csv.Error:
        return False


def _is_number(value: str) -> bool:
    return value.lstrip("-").replace(".", "", 1).isdigit()


def column_stats(values, name: str) -> ColumnStats:
    texts = [value for value in values if value]
    lengths = [len(value) for value in texts]
    chars = "".join(texts[:2000])
    hangul = len(HANGUL.findall(chars)) / max(1, len(chars.replace(" ", "")))
    numeric = bool(texts) and all(value.lstrip("-").replace(".", "", 1).isdigit() for value in texts[:500])
    return ColumnStats(name, len(set(values)), sum(lengths) / max(1, len(lengths)), round(hangul, 3), numeric)


def sniff_format(path: Path) -> str:
    """By the suffix, else by the first lines: JSON objects, tab- or comma-separated."""
    try:
        return table_format(path)
    except CorpusFormatError:
        lines = [line for line in path.read_bytes()[:100_000].decode("utf-8", errors="ignore").splitlines()[:50]
                 if line.strip()]
        if lines and all(line.lstrip().startswith("{") for line in lines):
            return "jsonl"
        if lines and sum("\t" in line for line in lines) >= 0.9 * len(lines):
            return "tsv"
        if lines and sum("," in line for line in lines) >= 0.9 * len(lines):
            return "csv"
        raise


def sniff(path: Path) -> Sniffed:
    fmt = sniff_format(path)
    encoding = sniff_encoding(path) if fmt in ("csv", "tsv", "jsonl") else "utf-8"
    header = sniff_header(path, fmt, encoding)
    frame = load_table(path, TableFiles(format=fmt, header=header, encoding=encoding))
    sample = frame.drop(columns=[ROW]).head(SAMPLE_ROWS)
    stats = [column_stats(sample[column].tolist(), column) for column in sample.columns]
    if len(stats) < 2:
        raise CorpusFormatError(f"{path}: one column only; a classification table needs a text and a label column")
    label = _guess_label(stats, len(sample))
    text = max((s for s in stats if s.name != label.name),
               key=lambda s: (s.name.lower() in TEXT_NAMES, not s.numeric, s.mean_length))
    counts = frame[label.name].value_counts()
    return Sniffed(path, fmt, encoding, header, len(frame), stats, text.name, label.name,
                   {str(k): int(v) for k, v in counts.items()}, text.hangul_share >= 0.3)


def _guess_label(stats: list[ColumnStats], rows: int) -> ColumnStats:
    candidates = [s for s in stats if 2 <= s.distinct <= min(MAX_CLASSES, max(2, rows // 2))]
    if not candidates:
        raise CorpusFormatError("no column looks like a label (2 to 100 distinct values); "
                                "set corpus.label_column by hand")
    return max(candidates, key=lambda s: (s.name.lower() in LABEL_NAMES, -s.mean_length, -s.distinct))


def starter_yaml(found: Sniffed, name: str, output: Path) -> str:
    ref = (lambda column: repr(column)) if found.header else (lambda column: int(column))
    counts = ", ".join(f"{label}: {count:,}" for label, count in list(found.label_counts.items())[:12])
    more = f" and {len(found.label_counts) - 12} more" if len(found.label_counts) > 12 else ""
    columns = "\n".join(f"#   {s.name!r:<24} {s.distinct:>8,} distinct  mean {s.mean_length:7.1f} chars"
                        f"  hangul {s.hangul_share:.0%}" for s in found.columns)
    labels = list(found.label_counts)
    label_list = sorted(labels, key=int) if all(label.lstrip("-").isdigit() for label in labels) else sorted(labels)
    if found.korean:
        text = ("text:\n  keep: hangul_basic      # Hangul, digits, Latin letters and ! ? . ~ ^\n"
                "  tokenizer: mecab         # MeCab-ko morphemes (okt, komoran, kkma, hannanum: konlpy)\n"
                "  min_freq: 2\n  max_len_percentile: 95\n  truncate_from: start    # Korean puts the predicate last")
    else:
        text = ("text:\n  keep: all\n  tokenizer: english\n  min_freq: 2\n  max_len_percentile: 95\n"
                "  truncate_from: end")
    header = "a header row" if found.header else "no header"
    model_name = re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-") or "model"
    return f"""# Pipeline {name}: written by `rnnflow init --source {found.path}`.
# Check the guesses marked "guess" before the first run:  rnnflow run --config {output}
#
# {found.path.name}: {found.format}, {found.encoding}, {header}, {found.rows:,} rows. Columns:
{columns}
pipeline: {name}
dag:
  schedule: "@weekly"      # cron, a preset, {{assets: [uri]}}, or null for by hand only
  tags: [own-corpus]
corpus:
  name: table
  source: {str(found.path.resolve())!r}
  format: {found.format}
  encoding: {found.encoding}
  header: {"true" if found.header else "false"}
  text_column: {ref(found.text_column)}        # guess: the longest free-text column
  label_column: {ref(found.label_column)}       # guess: {len(found.label_counts)} classes ({counts}{more})
  labels: {label_list!r}
  # The test split: a separate file (test_source: path), a split column (split_column: name),
  # or this seeded, stratified share of the rows.
  test_fraction: 0.2
  valid_fraction: 0.1
{text}
train:
  # Side by side on the same test split; the best by registry.metric is registered.
  models: [lstm, tfidf_logreg]
  epochs: 10
registry:
  model_name: {model_name}
  metric: {"accuracy" if len(labels) == 2 and _balanced(found.label_counts) else "macro_f1"}
tracking:
  experiment: {model_name}
"""


def _balanced(counts: dict[str, int]) -> bool:
    return min(counts.values()) >= 0.35 * sum(counts.values())


def write_starter(source: Path, output: Path | None = None, name: str | None = None, force: bool = False) -> Path:
    """Sniff ``source``, write the starter YAML to ``output`` (``<name>.yaml``), validated first."""
    import tempfile

    from pipeline.config.loading import load_config
    from pipeline.io import atomic_path

    if not source.is_file():
        raise CorpusFormatError(f"--source {source}: file not found")
    output = output or Path(f"{name or re.sub(r'[^A-Za-z0-9_.-]+', '_', source.stem)}.yaml")
    name = output.stem  # a pipeline's name is its file's name
    if output.exists() and not force:
        raise FileExistsError(f"{output} exists; pass --force to overwrite it")
    text = starter_yaml(sniff(source), name, output)
    with tempfile.TemporaryDirectory() as scratch:
        candidate = Path(scratch) / output.name
        candidate.write_text(text, encoding="utf-8")
        load_config(candidate)  # never hand a user a starter that does not load
    with atomic_path(output) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return output
