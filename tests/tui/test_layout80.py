"""UX report at 80x24: the demo hint toast must go away quickly; footer and status line
must not show broken words at 80 and 60 columns."""

from __future__ import annotations

from chatdesk.app import DEMO_HINT_SECONDS
from tests.tui.conftest import make_app, settle


async def test_demo_hint_toast_goes_within_six_seconds(store, tmp_path) -> None:  # type: ignore[no-untyped-def]
    app = make_app(store, home=tmp_path, demo_hint="Demo: press ? for keys.")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot, app)
        notes = [n for n in app._notifications if n.title == "demo"]
        assert notes and all(n.timeout <= 6 for n in notes)
    assert DEMO_HINT_SECONDS <= 6
