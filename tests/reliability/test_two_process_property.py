"""Issue 12 §6: two processes, any interleaving of claim, rate wait, send outcome, lease
takeover and SIGKILL: every reply part delivered at most once, and at least once once the
marketplace is healthy. The model is in ``outbox_model``; figures go to stdout (``-s``) and
``make bench`` runs the soak (``bench/outbox_interleavings.py``)."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.reliability.outbox_model import ACTIONS, OUTCOMES, Figures, run

FIGURES = Figures()

STEP = st.tuples(st.sampled_from(ACTIONS), st.sampled_from(("A", "B")), st.sampled_from(OUTCOMES))
# Bias towards the delivery path so most interleavings reach sends and verdicts.
BUSY = st.tuples(
    st.sampled_from(("claim", "begin", "send", "verdict")), st.sampled_from(("A", "B")), st.sampled_from(OUTCOMES)
)
# ... and towards the dangerous moments: a process stalls past its lease and is taken over.
LAPSE = st.tuples(st.sampled_from(("lapse", "kill", "takeover")), st.sampled_from(("A", "B")), st.just("accepted"))
STEPS = st.lists(st.one_of(STEP, BUSY, BUSY, BUSY, LAPSE), min_size=4, max_size=60)


@pytest.mark.timeout(600)
@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps=STEPS, replies=st.integers(1, 3), parts=st.integers(1, 3))
def test_any_interleaving_delivers_every_part_exactly_once(steps, replies: int, parts: int) -> None:  # type: ignore[no-untyped-def]
    run(steps, replies, parts, FIGURES)


@pytest.mark.slow
@pytest.mark.timeout(3600)
@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps=STEPS, replies=st.integers(1, 4), parts=st.integers(1, 3))
def test_interleavings_soak(steps, replies: int, parts: int) -> None:  # type: ignore[no-untyped-def]
    run(steps, replies, parts, FIGURES)


def test_zz_report_figures(capsys: pytest.CaptureFixture[str]) -> None:
    """Prints the figures of the runs above (run with -s to see them)."""
    f = FIGURES
    with capsys.disabled():
        print(
            f"\noutbox interleavings: {f.interleavings} explored ({len(f.distinct)} distinct), {f.steps} steps, "
            f"{f.parts_sent} parts sent, duplicates {f.duplicates}, losses {f.losses}, "
            f"takeovers {f.takeovers}, fenced writes refused {f.fenced_refusals}, kills {f.kills}"
        )
    assert f.duplicates == 0 and f.losses == 0
