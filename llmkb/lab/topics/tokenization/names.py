"""The tokenization topic's name, its experiments' names and the texts and byte groups it measures."""

from __future__ import annotations

from llmkb.lab.topic import Topic

__all__ = [
    "BPE",
    "BYTE_GROUPS",
    "EMBEDDINGS",
    "EOT",
    "HEATMAP_BYTES",
    "NUMBERS",
    "PARALLEL",
    "PIECE_EXAMPLES",
    "SAMPLE",
    "SPACES",
    "SWEEP",
    "TOPIC",
    "TOY_CORPUS",
    "WALKTHROUGH",
    "WIDGET_EXAMPLES",
]

TOPIC = Topic("tokenization")
BPE = TOPIC.name("bpe")
WALKTHROUGH = TOPIC.name("walkthrough")
SWEEP = TOPIC.name("vocab-sweep")
EMBEDDINGS = TOPIC.name("embeddings")

EOT = "<|endoftext|>"
"""The special token of the page's tokenizer (GPT-2's end-of-text marker)."""

SAMPLE = 'Tokenizers read bytes: "naïve café" & <script>alert(1)</script> 東京 🙂 x = 12345 + 678.9'
"""The sentence rendered statically with :func:`llmkb.tokenize.render_html` (hostile on purpose)."""

WIDGET_EXAMPLES: dict[str, str] = {
    "prose": "The default value of a parameter is evaluated once, when the function is defined.",
    "code": 'def greet(name: str) -> str:\n    return f"Hello, {name}!"\n',
    "numbers": "In 2024, 1234567 + 89 = 1234656; pi is 3.14159.",
    "multilingual": "Grüße aus Zürich · Привет · 東京の天気 · مرحبا · नमस्ते",
    "emoji": "family: 👨\u200d👩\u200d👧 thumbs: 👍🏽 flags: 🇫🇷",
    "special": f"end of one document{EOT}start of the next",
}
"""Texts the widget offers as one-click examples."""

PARALLEL: dict[str, str] = {
    "English": "The old library opens at nine in the morning and closes when the sun goes down.",
    "German": "Die alte Bibliothek öffnet um neun Uhr morgens und schließt, wenn die Sonne untergeht.",
    "French": "La vieille bibliothèque ouvre à neuf heures du matin et ferme au coucher du soleil.",
    "Spanish": "La antigua biblioteca abre a las nueve de la mañana y cierra cuando se pone el sol.",
    "Russian": "Старая библиотека открывается в девять утра и закрывается, когда садится солнце.",
    "Greek": "Η παλιά βιβλιοθήκη ανοίγει στις εννέα το πρωί και κλείνει όταν δύει ο ήλιος.",
    "Arabic": "تفتح المكتبة القديمة في التاسعة صباحًا وتغلق عند غروب الشمس.",
    "Hindi": "पुराना पुस्तकालय सुबह नौ बजे खुलता है और सूरज ढलने पर बंद हो जाता है।",
    "Chinese": "老图书馆早上九点开门，太阳落山时关门。",
    "Japanese": "古い図書館は朝九時に開き、日が沈むと閉まります。",
    "Korean": "오래된 도서관은 아침 아홉 시에 문을 열고 해가 지면 문을 닫는다.",
}
"""One sentence and its translations (written for this page), for tokens-per-character by script."""

NUMBERS = ("7", "42", "2024", "12345", "1234567", "3.14159", "1,000,000", " 2024", "0x1F")
"""Numbers written in several ways, to show how digit groups and merges cut them."""

SPACES = ("print", " print", "Print", " PRINT", "the", " the", "  the", "The", " The")
"""One word with and without a leading space and in several cases."""

PIECE_EXAMPLES = (
    "x.append(print)",
    "if (n>=10): return f(x)",
    "Don't panic, it's 12345 miles!",
    "  indented\n\n    code",
)
"""Texts cut by the GPT-4 split pattern on the page: code and prose, punctuation, digits, contractions."""

TOY_CORPUS = "low " * 5 + "lower " * 2 + "newest " * 6 + "widest " * 3
"""The corpus of the merge-by-merge training trace (Sennrich et al.'s example: words sharing stems and
suffixes, with counts 5, 2, 6 and 3)."""

BYTE_GROUPS: dict[str, str] = {
    "digits": "0123456789",
    "vowels": "aeiou",
    "consonants": "bcdfghjklmnpqrstvwxyz",
    "upper": "ABCDEFGHIJKLMNOPQRSTUVWXYZ",
    "punctuation": ".,;:!?'\"()[]{}",
    "operators": "+-*/=<>%&|^~",
    "space": " \n",
}
"""Groups of bytes whose learned embeddings are compared (only bytes frequent in the corpus are kept)."""

HEATMAP_BYTES = "0123456789aeiounrstlAEIOUNRSTL.,;:()[]\"'+-*/=<> \n"
"""The bytes of the heatmap figure (in this order), a readable subset of :data:`BYTE_GROUPS`."""
