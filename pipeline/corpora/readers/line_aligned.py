"""Line-aligned parallel files: line i of ``<name>.<source_lang>`` translates line i of
``<name>.<target_lang>``; plain files or pairs inside ``.tar.gz`` archives (read in memory, never
extracted)."""

from __future__ import annotations

import tarfile
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pipeline.corpora.base import CorpusRead, CorpusReader, PairSection, files_in
from pipeline.corpora.errors import CorpusFormatError
from pipeline.corpora.pairs import RELEASE_SUFFIX, decode_lines, pairs_frame, pairs_read

if TYPE_CHECKING:
    import pandas as pd


class LineAlignedCorpus(PairSection):
    name: Literal["line_aligned"] = "line_aligned"


def read_line_aligned(source: Path, target: Path, domain: str | None = None) -> pd.DataFrame:
    """Line i of ``source`` translates to line i of ``target``."""
    return _aligned(_read_lines(source), _read_lines(target), str(source), str(target),
                    domain or RELEASE_SUFFIX.sub("", source.stem))


def read_line_aligned_files(paths: Iterable[Path], source_lang: str,
                            target_lang: str) -> tuple[list[pd.DataFrame], dict]:
    """Every ``<name>.<source_lang>`` with its ``<name>.<target_lang>``; ``.tar.gz`` archives are
    searched for such pairs inside. A source file without its target is an error; a target file
    without a source (its partner is in another language) is skipped and counted."""
    paths = sorted(Path(path) for path in paths)
    available = set(paths)
    frames = []
    for source in (path for path in paths if path.suffix == f".{source_lang}"):
        target = source.with_suffix(f".{target_lang}")
        if target not in available:
            raise CorpusFormatError(f"{source}: no aligned {target.name} beside it")
        frames.append(read_line_aligned(source, target, domain=source.stem))
    unpaired_targets = sum(1 for path in paths if path.suffix == f".{target_lang}"
                           and path.with_suffix(f".{source_lang}") not in available)
    for archive in (path for path in paths if path.name.endswith(".tar.gz")):
        frames.extend(_read_tar_pairs(archive, source_lang, target_lang))
    if not frames:
        raise CorpusFormatError(f"no *.{source_lang} / *.{target_lang} pairs (plain or in .tar.gz) among "
                                f"{[str(path) for path in paths][:5]}")
    quirks = {"target_file_without_source_file": unpaired_targets} if unpaired_targets else {}
    return frames, quirks


def _read_tar_pairs(archive: Path, source_lang: str, target_lang: str) -> list[pd.DataFrame]:
    try:
        with tarfile.open(archive, "r:gz") as tar:
            members = {member.name: member for member in tar.getmembers() if member.isfile()}
            frames = []
            for name in sorted(members):
                if not name.endswith(f".{source_lang}"):
                    continue
                target_name = name[: -len(source_lang)] + target_lang
                if target_name not in members:
                    raise CorpusFormatError(f"{archive}!{name}: no aligned {target_name} in the archive")
                source_lines = decode_lines(tar.extractfile(members[name]).read(), f"{archive}!{name}")
                target_lines = decode_lines(tar.extractfile(members[target_name]).read(), f"{archive}!{target_name}")
                frames.append(_aligned(source_lines, target_lines, f"{archive}!{name}", f"{archive}!{target_name}",
                                       Path(name).stem))
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise CorpusFormatError(f"{archive}: not a readable .tar.gz: {exc}") from exc
    return frames


def _read_lines(path: Path) -> list[str]:
    if not path.is_file():
        raise CorpusFormatError(f"{path}: file not found")
    return decode_lines(path.read_bytes(), str(path))


def _aligned(sources: list[str], targets: list[str], source_name: str, target_name: str,
             domain: str) -> pd.DataFrame:
    if len(sources) != len(targets):
        raise CorpusFormatError(f"{source_name} has {len(sources):,} lines but {target_name} has "
                                f"{len(targets):,}: the files are not line-aligned")
    records = []
    for number, (source, target) in enumerate(zip(sources, targets), start=1):
        source, target = source.strip(), target.strip()
        if not source or not target:
            empty = source_name if not source else target_name
            raise CorpusFormatError(f"{empty}:{number}: empty line in a line-aligned pair")
        records.append((f"{domain}-{number}", source, target, domain, f"{Path(source_name).name}:{number}"))
    return pairs_frame(records)


class LineAlignedReader(CorpusReader):
    """``<name>.<source_lang>`` + ``<name>.<target_lang>`` files, plain or inside ``.tar.gz``."""

    name = "line_aligned"
    Section = LineAlignedCorpus

    def locate(self, folder: Path, corpus: LineAlignedCorpus) -> dict[str, Path]:
        suffixes = (f".{corpus.source_lang}", f".{corpus.target_lang}")
        return files_in(folder, lambda path: path.name.endswith(".tar.gz") or path.suffix in suffixes)

    def read(self, files: dict[str, Path], corpus: LineAlignedCorpus) -> CorpusRead:
        frames, quirks = read_line_aligned_files(files.values(), corpus.source_lang, corpus.target_lang)
        return pairs_read(frames, files, quirks)


READER = LineAlignedReader()
