import pytest

from pipeline.text.cleaning import TextCleaner


def test_hangul_only_removes_everything_else():
    assert TextCleaner(keep="hangul")("아 더빙.. 진짜 짜증나네요 ㅋㅋ 10점!!") == "아 더빙 진짜 짜증나네요 ㅋㅋ 점"


def test_hangul_basic_keeps_digits_latin_and_sentiment_punctuation():
    assert TextCleaner(keep="hangul_basic")("CG가 최고!! 10점~ #영화") == "cg가 최고!! 10점~ 영화"


def test_repeats_are_shortened_and_whitespace_collapsed():
    cleaner = TextCleaner(max_char_repeat=2)
    assert cleaner("ㅋㅋㅋㅋㅋㅋ   좋아요!!!!!") == "ㅋㅋ 좋아요!!"


def test_decomposed_hangul_is_composed_first():
    import unicodedata

    decomposed = unicodedata.normalize("NFD", "영화")
    assert TextCleaner(keep="hangul")(decomposed) == "영화"


def test_keep_all_only_normalises_space_and_case():
    assert TextCleaner(keep="all", lowercase=False)(" A  #b ") == "A #b"


def test_invalid_settings_name_the_value():
    with pytest.raises(ValueError, match="keep='latin'"):
        TextCleaner(keep="latin")
    with pytest.raises(ValueError, match="max_char_repeat=0"):
        TextCleaner(max_char_repeat=0)
