from rtvi_edge.pipeline.chunker import TextChunker, speakable, spoken_words


def stream(chunker: TextChunker, text: str) -> list[str]:
    out: list[str] = []
    for token in text.split(" "):
        out += chunker.push(token + " ")
    return out + chunker.flush()


def test_first_clause_goes_early_then_sentences() -> None:
    pieces = stream(
        TextChunker(first_chunk_words=3), "Well, the sky is blue today, I think. It is sunny."
    )
    assert pieces == ["Well, the sky is blue today,", "I think.", "It is sunny."]


def test_decimals_and_unfinished_text() -> None:
    chunker = TextChunker()
    assert chunker.push("It costs 3.5 euros") == []
    assert chunker.flush() == ["It costs 3.5 euros"]


def test_markdown_is_not_spoken() -> None:
    assert speakable("**Hello** _there_ # friend") == "Hello there friend"


def test_long_sentences_cut_at_clauses() -> None:
    words = " ".join(f"w{i}" for i in range(12))
    pieces = stream(TextChunker(first_chunk_words=50), f"{words}, and more words here.")
    assert pieces[0].endswith(",") and len(pieces) == 2


def test_the_first_piece_goes_after_a_few_words_without_punctuation() -> None:
    chunker = TextChunker(first_chunk_words=3, first_max_words=4)
    pieces = stream(chunker, "A lemon is a classic example of a yellow fruit. It is sour.")
    assert pieces == ["A lemon is a", "classic example of a yellow fruit.", "It is sour."]


def test_punctuation_before_the_limit_still_cuts_first() -> None:
    chunker = TextChunker(first_chunk_words=3, first_max_words=6)
    assert stream(chunker, "Paris is lovely. Go in May.") == ["Paris is lovely.", "Go in May."]


def _words(n: int, start: int = 0) -> str:
    """n distinct words without digits (a digit counts as a spoken word)."""
    return " ".join("w" + chr(97 + i // 26) + chr(97 + i % 26) for i in range(start, start + n))


def _later(text: str) -> list[str]:
    """Pieces after a first sentence (the caps below are for later pieces)."""
    return stream(TextChunker(first_chunk_words=3, first_max_words=4), "Sure thing. " + text)[1:]


def test_a_long_sentence_is_cut_at_a_comma_after_ten_words() -> None:
    pieces = _later(f"{_words(10)}, {_words(5, 10)}.")
    assert pieces == [f"{_words(10)},", f"{_words(5, 10)}."]


def test_a_short_clause_is_not_cut_at_its_comma() -> None:
    assert _later(f"{_words(5)}, {_words(4, 5)}.") == [f"{_words(5)}, {_words(4, 5)}."]


def test_without_punctuation_a_piece_ends_before_a_conjunction() -> None:
    pieces = _later(f"{_words(11)} and {_words(8, 11)}.")
    assert pieces == [_words(11), f"and {_words(8, 11)}."]


def test_a_conjunction_early_in_a_piece_is_not_a_cut() -> None:
    text = f"{_words(3)} and {_words(6, 3)}."
    assert _later(text) == [text]


def test_without_any_boundary_a_piece_stops_at_sixteen_words() -> None:
    pieces = _later(f"{_words(20)}.")
    assert pieces == [_words(16), f"{_words(4, 16)}."]


def test_at_the_cap_an_earlier_comma_is_preferred() -> None:
    pieces = _later(f"{_words(6)}, {_words(14, 6)}.")
    assert pieces == [f"{_words(6)},", f"{_words(14, 6)}."]


def test_cutting_keeps_every_word_in_order() -> None:
    text = (
        "It is sunny and mild today with a light breeze from the west and it should stay dry "
        "until the evening when a few clouds may roll in from the sea which is quite normal "
        "for the time of year so there is nothing to worry about at all."
    )
    pieces = _later(text)
    assert " ".join(pieces) == text
    assert all(len(p.split()) <= 16 for p in pieces)


def test_numbers_count_as_the_words_they_take_to_say() -> None:
    assert spoken_words("about 384,400 km") == 8
    text = "The moon is 384,400 kilometres or 238,855 miles away from the Earth on average."
    pieces = _later(text)
    assert " ".join(pieces) == text
    assert all(spoken_words(p) <= 16 for p in pieces) and len(pieces) == 2


def test_a_number_that_goes_over_the_cap_starts_the_next_piece() -> None:
    text = "The Moon is about 384,400 kilometres (238,855 miles) away."
    assert _later(text) == ["The Moon is about 384,400 kilometres", "(238,855 miles) away."]
