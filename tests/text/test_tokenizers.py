"""Each tokenizer for real: MeCab-ko, the four konlpy taggers (one JVM), whitespace.

The konlpy taggers run in a fresh interpreter, as the product runs them (in spawned pool workers,
``pipeline.text.parallel``): a pytest worker that has already run Airflow and TensorFlow in-process
was seen twice to hang for good inside the JVM's Komoran constructor, and a JVM cannot be restarted
within one process, so a fresh process is the only way to give each test a clean JVM.
"""

import json
import pickle
import subprocess
import sys

import pytest

from pipeline.text.tokenizers import MecabTokenizer, make_tokenizer

SENTENCE = "아 더빙 진짜 짜증나네요 목소리"


def test_mecab_tokens_match_the_library():
    import mecab

    tokenizer = make_tokenizer("mecab")
    assert tokenizer.tokenize(SENTENCE) == mecab.MeCab().morphs(SENTENCE)
    assert tokenizer.tokenize("") == []


def test_mecab_with_pos_tags():
    tokens = make_tokenizer("mecab", {"with_pos": True}).tokenize("영화 최고")
    assert tokens[0] == "영화/NNG"


def _tokenize_in_fresh_process(name: str, options: dict, text: str) -> list[str]:
    script = ("import json, sys; from pipeline.text.tokenizers import make_tokenizer; "
              "name, options, text = json.loads(sys.argv[1]); "
              "print(json.dumps(make_tokenizer(name, options).tokenize(text)))")
    done = subprocess.run([sys.executable, "-c", script, json.dumps([name, options, text])],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("name, expected", [
    ("okt", ["아", "더빙", "진짜", "짜증나네요", "목소리"]),
    ("komoran", None), ("kkma", None), ("hannanum", None),
])
def test_konlpy_taggers(name, expected):
    tokens = _tokenize_in_fresh_process(name, {}, SENTENCE)
    if expected is not None:
        assert tokens == expected
    assert "더빙" in tokens or "더" in tokens
    assert len(tokens) >= 5 and all(token.strip() == token and token for token in tokens)


def test_okt_stemming_option():
    assert "짜증나다" in _tokenize_in_fresh_process("okt", {"stem": True}, SENTENCE)


def test_whitespace():
    assert make_tokenizer("whitespace").tokenize(" a  b ") == ["a", "b"]


def test_identity_records_name_version_options():
    identity = make_tokenizer("okt", {"stem": True}).identity()
    assert identity["name"] == "okt"
    assert identity["options"] == {"stem": True}
    assert "konlpy==" in identity["version"]
    assert "python-mecab-ko==" in MecabTokenizer().version


def test_tokenizer_pickles_without_its_tagger():
    tokenizer = make_tokenizer("mecab")
    tokenizer.tokenize(SENTENCE)
    clone = pickle.loads(pickle.dumps(tokenizer))
    assert clone._tagger is None
    assert clone.tokenize(SENTENCE) == tokenizer.tokenize(SENTENCE)


def test_bad_names_and_options_are_named():
    with pytest.raises(ValueError, match="tokenizer 'jieba'"):
        make_tokenizer("jieba")
    with pytest.raises(ValueError, match=r"unknown option\(s\) \['stem'\]"):
        make_tokenizer("mecab", {"stem": True})
    with pytest.raises(ValueError, match=r"tokenizer 'kkma': unknown option\(s\) \['stem'\]; allowed: \[\]"):
        make_tokenizer("kkma", {"stem": True})
