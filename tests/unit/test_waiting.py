"""The tests' one polling helper."""

from __future__ import annotations

import itertools

import pytest

from tests.waiting import wait_for


def test_returns_the_first_truthy_answer() -> None:
    answers = iter([None, 0, "", "ready", "later"])
    assert wait_for("an answer", lambda: next(answers), timeout_s=5, interval_s=0) == "ready"


def test_not_yet_exceptions_are_retried_others_propagate() -> None:
    calls = itertools.count()

    def flaky() -> int:
        n = next(calls)
        if n < 2:
            raise ConnectionError("not listening yet")
        return n

    assert wait_for("a server", flaky, timeout_s=5, interval_s=0, not_yet=(ConnectionError,)) == 2
    with pytest.raises(ValueError, match="broken"):
        wait_for("a value", lambda: (_ for _ in ()).throw(ValueError("broken")), timeout_s=5, interval_s=0)


def test_a_condition_that_never_holds_fails_naming_it() -> None:
    calls = itertools.count()
    with pytest.raises(AssertionError, match=r"timed out after 0\.05 s waiting for the impossible"):
        wait_for("the impossible", lambda: next(calls) < 0, timeout_s=0.05, interval_s=0.01)
    assert next(calls) >= 2  # probed more than once before giving up
