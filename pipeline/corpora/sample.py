"""A small NSMC-format corpus that rnnflow writes itself, for offline demos and tests.

The reviews are generated from templates, so the project carries no copied data. Labels follow
the wording (praise -> 1, complaint -> 0) with a little label noise, so a model can learn them
but not perfectly.
"""

from __future__ import annotations

import random
from pathlib import Path

from pipeline.corpora.readers.nsmc import HEADER_LINE, SPLIT_FILES
from pipeline.io import atomic_path

SUBJECTS = ["영화", "스토리", "배우들 연기", "연출", "음악", "결말", "주인공", "영상미", "대사", "전개"]
POSITIVE = ["정말 최고였다", "너무 재밌어요", "감동적이었습니다", "강력 추천합니다", "완벽했다",
            "또 보고 싶네요", "눈물이 났어요", "몰입감이 대단하다", "훌륭합니다", "인생 영화입니다"]
NEGATIVE = ["너무 지루했다", "최악이에요", "돈이 아깝다", "시간 낭비였습니다", "실망스럽네요",
            "유치하고 뻔하다", "보다가 잤어요", "어이가 없다", "별로였어요", "다시는 안 본다"]
OPENERS = ["", "솔직히 ", "진짜 ", "오랜만에 본 ", "기대했는데 ", "가족이랑 본 "]
CLOSERS = ["", " ㅋㅋ", "!!", "...", " 10점", " 1점", " ㅠㅠ", "~"]


def sample_review(rng: random.Random) -> tuple[str, int]:
    label = rng.randint(0, 1)
    predicates = POSITIVE if label else NEGATIVE
    clauses = [f"{rng.choice(SUBJECTS)} {rng.choice(predicates)}" for _ in range(rng.randint(1, 3))]
    text = rng.choice(OPENERS) + " ".join(clauses) + rng.choice(CLOSERS)
    if rng.random() < 0.05:
        label = 1 - label
    return text, label


def write_sample_corpus(folder: str | Path, train_rows: int = 2000, test_rows: int = 500,
                        seed: int = 7) -> Path:
    """Write ``ratings_train.txt`` and ``ratings_test.txt`` in NSMC format; return the folder."""
    folder = Path(folder)
    rng = random.Random(seed)
    next_id = 1_000_000
    for split, rows in (("train", train_rows), ("test", test_rows)):
        lines = [HEADER_LINE]
        for _ in range(rows):
            text, label = sample_review(rng)
            lines.append(f"{next_id}\t{text}\t{label}")
            next_id += 1
        with atomic_path(folder / SPLIT_FILES[split]) as tmp:
            tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder
