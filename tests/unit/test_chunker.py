from rtvi_edge.pipeline.chunker import TextChunker, speakable


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
    words = " ".join(f"w{i}" for i in range(20))
    pieces = stream(TextChunker(first_chunk_words=50), f"{words}, and more words here.")
    assert pieces[0].endswith(",") and len(pieces) == 2


def test_the_first_piece_goes_after_a_few_words_without_punctuation() -> None:
    chunker = TextChunker(first_chunk_words=3, first_max_words=4)
    pieces = stream(chunker, "A lemon is a classic example of a yellow fruit. It is sour.")
    assert pieces == ["A lemon is a", "classic example of a yellow fruit.", "It is sour."]


def test_punctuation_before_the_limit_still_cuts_first() -> None:
    chunker = TextChunker(first_chunk_words=3, first_max_words=6)
    assert stream(chunker, "Paris is lovely. Go in May.") == ["Paris is lovely.", "Go in May."]
