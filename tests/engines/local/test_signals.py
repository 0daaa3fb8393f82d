"""Signals sent to this very process while an update's clean-up runs."""

from __future__ import annotations

import os
import signal
import threading

import pytest

from etl_assets.engines.local.signals import interrupts_held


@pytest.fixture(autouse=True)
def _python_default_handlers():
    """Python's own SIGINT handler, whatever the shell gave the test process (a background job
    starts with SIGINT ignored, and Python then leaves it so), put back as it was afterwards."""
    before = {signo: signal.getsignal(signo) for signo in (signal.SIGINT, signal.SIGTERM)}
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    yield
    for signo, handler in before.items():
        signal.signal(signo, handler)


def test_an_interrupt_during_the_block_waits_for_its_end():
    steps = []
    with pytest.raises(KeyboardInterrupt):
        with interrupts_held() as received:
            os.kill(os.getpid(), signal.SIGINT)
            steps.append("after the signal")  # not cut short
            os.kill(os.getpid(), signal.SIGINT)
            steps.append("after the second")
            assert received == [signal.SIGINT, signal.SIGINT]
    assert steps == ["after the signal", "after the second"]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_a_block_leaving_with_an_error_does_not_raise_the_held_interrupt_over_it():
    with pytest.raises(ValueError):
        with interrupts_held():
            os.kill(os.getpid(), signal.SIGTERM)
            raise ValueError("the step's own failure")


def test_the_handler_in_place_before_gets_a_held_sigterm():
    seen = []
    before = signal.signal(signal.SIGTERM, lambda signo, frame: seen.append(signo))
    try:
        with interrupts_held():
            os.kill(os.getpid(), signal.SIGTERM)
            assert seen == []
        assert seen == [signal.SIGTERM]
    finally:
        signal.signal(signal.SIGTERM, before)


def test_outside_the_main_thread_the_block_just_runs():
    outcome = []

    def work():
        with interrupts_held() as received:
            outcome.append(received)

    thread = threading.Thread(target=work)
    thread.start()
    thread.join()
    assert outcome == [[]]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
