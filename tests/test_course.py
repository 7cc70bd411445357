"""gptlite.course: the texts ship in the package, and the exercise check passes a right answer and names a wrong one."""

import numpy as np
import pytest

from gptlite import course
from gptlite.model import softmax

X = np.random.default_rng(0).standard_normal((3, 5), dtype=np.float32)


def test_the_texts_are_read_from_the_package():
    assert course.text("hamlet").startswith("#") and len(course.text("hamlet")) > 100_000
    assert course.text("heldout").startswith("The fearful passage of their death-mark'd love")  # Romeo and Juliet
    with pytest.raises(ValueError, match="no course text 'sonnets'; the texts are hamlet, heldout"):
        course.text("sonnets")


def test_a_right_answer_passes(capsys):
    def mine(x):
        e = np.exp(x - x.max(-1, keepdims=True))
        return e / e.sum(-1, keepdims=True)

    assert course.check(mine, softmax, [(X,), (X * 100,)])
    assert capsys.readouterr().out == "mine: right on all 2 cases\n"


def test_a_stub_is_not_written_yet_not_an_error(capsys):
    def softmax_stub(x):
        raise NotImplementedError

    assert course.check(softmax_stub, softmax, [(X,)]) is None
    assert "not written yet" in capsys.readouterr().out


@pytest.mark.parametrize(
    "wrong, message",
    [
        (lambda x: np.exp(x) / np.exp(x).sum(), "values differ; at (0, 0)"),  # sums over every row at once
        (lambda x: softmax(x).astype(np.float64), "dtype float64, expected float32"),
        (lambda x: softmax(x)[0], "shape (5,), expected (3, 5)"),
        (lambda x: softmax(x).tolist(), "expected a numpy array, got list"),
    ],
)
def test_a_wrong_answer_says_what_is_wrong(wrong, message):
    with pytest.raises(AssertionError, match=r"case 1 of 1: .*" + message.replace("(", r"\(").replace(")", r"\)")):
        course.check(wrong, softmax, [(X,)])


def test_tuples_and_plain_values_are_compared_item_by_item():
    assert course.difference((X, 3), (X, 3)) == ""
    assert course.difference((X, 3), (X, 4)) == "item 1: expected 4, got 3"
    assert course.difference(X, (X, X)) == "expected a tuple of 2 arrays, got ndarray"
    assert course.difference(np.float32(0.1) * 3, 0.3) == ""  # numbers within the tolerance, as arrays are
    assert course.difference(0.31, 0.3) == "expected 0.3, got 0.31"
