"""The worker's retry policy and the reason it stores with a failed event."""

from __future__ import annotations

from rowsync.events.retry import MAX_ERROR_CHARS, RetryPolicy, describe_error, is_permanent


def _raised(exc):
    try:
        raise exc
    except Exception as caught:
        return caught


def test_short_error_keeps_its_whole_traceback():
    text = describe_error(_raised(ValueError("boom")))
    head, tb = text.split("\n\n", 1)
    assert head == "builtins.ValueError: boom"
    assert tb.startswith("Traceback") and "_raised" in tb


def test_long_traceback_keeps_the_head_and_the_tail():
    exc = _raised(ValueError("x" * (MAX_ERROR_CHARS // 2)))
    text = describe_error(exc)
    assert len(text) <= MAX_ERROR_CHARS
    head = f"builtins.ValueError: {'x' * (MAX_ERROR_CHARS // 2)}"
    assert text.startswith(f"{head}\n\n...\n")
    assert text.endswith("x" * 100 + "\n")  # the traceback's last line: the exception


def test_huge_message_is_cut_to_the_limit():
    exc = _raised(ValueError("y" * (MAX_ERROR_CHARS * 2)))
    text = describe_error(exc)
    assert text == f"builtins.ValueError: {'y' * (MAX_ERROR_CHARS * 2)}"[:MAX_ERROR_CHARS]


def test_permanent_errors():
    from rowsync.events.rebuild import EventDecodeError

    class Refused(Exception):
        permanent = True

    class Flaky(Exception):
        permanent = "yes"  # only a true bool counts

    assert is_permanent(Refused())
    assert is_permanent(EventDecodeError("no primary key"))
    assert not is_permanent(Flaky())
    assert not is_permanent(ValueError())


def test_delay_without_jitter_doubles_up_to_the_ceiling():
    policy = RetryPolicy(max_attempts=3, base_delay=2, max_delay=10, jitter=0)
    assert [policy.delay(n) for n in (1, 2, 3, 4, 500)] == [2, 4, 8, 10, 10]
    assert RetryPolicy(base_delay=0).delay(3) == 0
    assert not policy.is_exhausted(2) and policy.is_exhausted(3)
