"""A claim displayed in a notebook reaches the test as fields, beside the sentence a student reads."""

from __future__ import annotations

from dataclasses import dataclass

import nbformat
from nbclient import NotebookClient

from corelab.claim import MIME, Claim
from tests.notebooks import claim


@dataclass
class _Lost(Claim):
    lost: int
    expected: int
    ratio: float

    def sentence(self) -> str:
        return f"{self.lost} of {self.expected} lost"


def test_a_claim_shows_its_sentence_and_carries_its_fields() -> None:
    result = _Lost(lost=3, expected=10, ratio=float("nan"))
    bundle = result._repr_mimebundle_()
    assert bundle["text/plain"] == "3 of 10 lost" == str(result)
    assert bundle[MIME] == {
        "claim": "_Lost",
        "sentence": "3 of 10 lost",
        "fields": {"lost": 3, "expected": 10, "ratio": None},
    }


def test_a_claim_survives_a_real_kernel_and_nbformat() -> None:
    source = (
        "from dataclasses import dataclass\n"
        "from corelab.claim import Claim\n"
        "@dataclass\n"
        "class Speedup(Claim):\n"
        "    ratio: float\n"
        "    def sentence(self):\n"
        "        return f'{self.ratio:.2f}x'\n"
        "Speedup(ratio=1.875)"
    )
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source)])
    NotebookClient(nb, timeout=60, kernel_name="python3").execute()
    nb = nbformat.reads(nbformat.writes(nb), as_version=4)  # as a stored .ipynb would be read back
    assert claim(nb, "Speedup") == {"ratio": 1.875}
    assert nb.cells[0].outputs[0]["data"]["text/plain"] == "1.88x"
