"""Token estimates: the heuristic by default, the BPE when exact counts are asked for."""

import pytest

from providers import tokens


@pytest.fixture
def fresh_encoding():
    tokens._encoding.cache_clear()
    yield
    tokens._encoding.cache_clear()


def test_it_estimates_four_characters_a_token_by_default(fresh_encoding):
    assert tokens.count_text("abcdefgh") == 2
    assert tokens.count_text("abcdefghi") == 3


def test_it_counts_with_the_bpe_when_asked(fresh_encoding, settings):
    settings.GATEWAY = {**settings.GATEWAY, "EXACT_TOKEN_COUNTS": True}
    assert tokens.count_text("Hello world") == 2
    assert tokens.count_text("hi <|endoftext|> there") > 0  # a special token's name is plain text here
