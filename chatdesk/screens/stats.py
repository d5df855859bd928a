"""Stats (``I``): the last 30 days at a glance — buyer messages and first response time per
day, problems per product — plus "products on fire" with the messages behind each number one
key away (Enter), and the topic picker of the list's ``t`` filter.

The report is built in a thread worker (:func:`chatdesk.assist.report.build`); the plots are
textual-plotext widgets sized for 80x24 (one plot at a time: ``v`` volume, ``r`` response
time, ``p`` problems per product).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Footer, OptionList, Static
from textual.widgets.option_list import Option
from textual_plotext import PlotextPlot

from chatdesk.assist.topics import SHORT, TOPICS
from chatdesk.sanitize import safe_text
from chatdesk.screens.base import DeskScreen
from chatdesk.screens.dialogs import DIALOG_CSS

if TYPE_CHECKING:
    from chatdesk.assist.report import FireRow

DAYS = 30


def counted(n: int, noun: str) -> str:
    """``n`` with its English noun in the right number: "1 problem", "0 problems", "2 chats"
    (the screen is English; a regular plural in -s is all its nouns need)."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def fire_label(f: FireRow) -> Text:
    """One "product on fire" line: "<product>: 3 problems (before 1) · брак 2←0, размер 1←1"."""
    what = ", ".join(f"{SHORT.get(k, k)} {c}←{p}" for k, (c, p) in f.by_topic.items())
    label = Text(f"{safe_text(f.label, single_line=True, max_len=40)}: ", style="bold")
    label.append(f"{counted(f.current, 'problem')} (before {f.previous}) · {what}")
    return label


class StatsScreen(DeskScreen[tuple[int, int] | None]):
    """Dismisses with (chat id, message id) to open, or None."""

    DEFAULT_CSS = """
    StatsScreen { layout: vertical; }
    StatsScreen #st-summary { height: auto; padding: 0 1; }
    StatsScreen PlotextPlot { height: 1fr; min-height: 8; }
    StatsScreen #st-fire-title { height: 1; padding: 0 1; text-style: bold; }
    StatsScreen #st-fire { height: auto; max-height: 6; }
    StatsScreen #st-fire > .option-list--option-disabled { color: $text-muted; }
    """
    BINDINGS: ClassVar = [
        Binding("escape,q", "close", "Back", id="stats_close"),
        Binding("v", "plot('volume')", "Volume", id="stats_volume"),
        Binding("r", "plot('response')", "Response time", id="stats_response"),
        Binding("p", "plot('problems')", "Problems", id="stats_problems"),
    ]

    def __init__(self, desk: Any = None) -> None:
        super().__init__(desk)
        self.by_day: Any = None
        self.by_product: Any = None
        self.kind = "volume"

    def compose(self) -> ComposeResult:
        yield Static(Text(f"Stats, last {DAYS} days — loading…"), id="st-summary")
        yield PlotextPlot(id="st-plot")
        yield Static(
            Text("Products on fire (problems now vs the 30 days before) — Enter: the messages"), id="st-fire-title"
        )
        yield OptionList(id="st-fire")
        yield Footer()

    def on_mount(self) -> None:
        self._load()

    @work(thread=True, exclusive=True, group="stats", exit_on_error=False)
    def _load(self) -> None:
        from datetime import timedelta

        from chatdesk.assist import report

        desk = self.desk

        def build() -> tuple[Any, Any]:
            from chatdesk.store import analytics

            now = desk.clock()
            since = now - timedelta(days=DAYS)
            by_day = report.build(desk.db, desk.config, since=since, until=now, by="day", now=now)
            top = by_day.problems[:8]  # problem messages per product, from the same pass
            titles = analytics.product_titles(desk.db, [p for p, _ in top])
            return by_day, [(titles.get(p) or f"product {p}", n) for p, n in top]

        ok, built = desk.attempt(build)
        if ok and built is not None:
            self.app.call_from_thread(self._loaded, *built)

    def _loaded(self, by_day: Any, by_product: Any) -> None:
        from chatdesk.assist.report import human_duration, percent

        self.by_day, self.by_product = by_day, by_product
        t = by_day.total
        summary = Text()  # three lines that fit 80 columns whole (no mid-phrase wrap)
        summary.append(f"Last {DAYS} days: ", style="bold")
        summary.append(f"{counted(t.buyer_messages, 'buyer message')} in {counted(t.conversations, 'chat')} · ")
        summary.append(f"waiting now {t.unanswered_now}", style="bold" if t.unanswered_now else "")
        summary.append(
            f"\nfirst response: median {human_duration(t.first_response.median)}, "
            f"p90 {human_duration(t.first_response.p90)} · "
            f"in SLA {percent(t.sla_share)} · in window {percent(t.window_share)}"
        )
        summary.append("\nv volume · r response time · p problems per product · Esc back")
        self.query_one("#st-summary", Static).update(summary)
        fire = self.query_one("#st-fire", OptionList)
        fire.clear_options()
        for i, f in enumerate(by_day.fire):
            fire.add_option(Option(fire_label(f), id=str(i)))
        if not by_day.fire:
            fire.add_option(Option(Text("no product has more problems than the 30 days before"), disabled=True))
        self._draw()

    def action_plot(self, kind: str) -> None:
        self.kind = kind
        self._draw()

    def _draw(self) -> None:
        widget = self.query_one(PlotextPlot)
        plt = widget.plt
        plt.clear_data()
        plt.clear_figure()
        if self.by_day is None:
            return
        days = [g.key for g in self.by_day.groups]
        labels = [d[5:] for d in days]  # MM-DD
        if self.kind == "volume":
            counts = [g.buyer_messages for g in self.by_day.groups]
            plt.bar(labels, counts)
            plt.yticks(_whole_ticks(max(counts, default=0)))  # counts: no "2.3 messages" on the axis
            plt.title("Buyer messages per day")
        elif self.kind == "response":
            # days without a first response have no point (not a 0-minute one)
            points = [
                (i, g.first_response.median / 60)
                for i, g in enumerate(self.by_day.groups)
                if g.first_response.median is not None
            ]
            xs = list(range(len(labels)))
            if points:  # numbers on x: plotext reads "MM-DD" strings as dates
                plt.plot([x for x, _ in points], [m for _, m in points], marker="braille")
            step = max(1, len(labels) // 8)
            plt.xticks(xs[::step], labels[::step])
            plt.title("First response time per day, median (minutes)")
        else:
            rows = list(reversed(self.by_product or []))
            if rows:
                plt.bar(
                    [safe_text(name, single_line=True, max_len=18) for name, _ in rows],
                    [n for _, n in rows],
                    orientation="horizontal",
                )
                plt.xticks(_whole_ticks(max(n for _, n in rows)))
            plt.title("Problem messages per product (defect, size, delivery, return…)")
        widget.refresh()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        if self.by_day is None or event.option.id is None:
            return
        f = self.by_day.fire[int(event.option.id)]
        self._open_messages(list(f.message_ids), f.label)

    @work(thread=True, group="stats-messages", exit_on_error=False)
    def _open_messages(self, ids: list[int], label: str) -> None:
        from chatdesk.store import views

        ok, rows = self.desk.attempt(lambda: views.messages_by_ids(self.desk.db, ids[:100]))
        if ok and rows is not None:
            self.app.call_from_thread(self._pick_message, rows, label)

    def _pick_message(self, rows: list[Any], label: str) -> None:
        def chosen(target: tuple[int, int] | None) -> None:
            if target is not None:
                self.dismiss(target)

        self.app.push_screen(MessagePicker(rows, label), chosen)

    def action_close(self) -> None:
        self.dismiss(None)


def _whole_ticks(top: int, most: int = 6) -> list[int]:
    """At most ``most`` whole-number axis ticks from 0 to at least ``top``, a step of 1, 2 or 5
    times a power of ten (counts are whole: no "2.3 messages" on an axis)."""
    need = max(1, -(-top // (most - 1)))
    power = 1
    while True:
        for m in (1, 2, 5):
            if m * power >= need:
                step = m * power
                return list(range(0, top + step if top % step else top + 1, step))
        power *= 10


class MessagePicker(ModalScreen[tuple[int, int] | None]):
    """The buyer messages behind a number; Enter opens the chat at that message."""

    DEFAULT_CSS = DIALOG_CSS.format(name="MessagePicker") + "MessagePicker OptionList { height: auto; max-height: 14; }"
    BINDINGS: ClassVar = [Binding("escape", "cancel", "Cancel", id="msgpick_cancel")]

    def __init__(self, rows: list[Any], label: str) -> None:
        super().__init__()
        self.rows = sorted(rows, key=lambda m: (m.created_at, m.id), reverse=True)
        self.label = label

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Text(f"{safe_text(self.label, single_line=True)}: the messages"), classes="dialog-title")
            yield OptionList(
                *[
                    Option(
                        Text(f"{m.created_at:%d.%m %H:%M}  {safe_text(m.text, single_line=True, max_len=90)}"),
                        id=str(i),
                    )
                    for i, m in enumerate(self.rows)
                ],
                id="mp-list",
            )
            yield Static(Text("Enter open the chat · Esc back"), classes="dialog-keys")

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        m = self.rows[int(event.option.id or 0)]
        self.dismiss((m.chat_id, m.id))

    def action_cancel(self) -> None:
        self.dismiss(None)


class TopicPicker(ModalScreen[str | None]):
    """Returns a topic code, ``""`` for any topic, or None (Esc)."""

    DEFAULT_CSS = DIALOG_CSS.format(name="TopicPicker") + "TopicPicker OptionList { height: auto; max-height: 14; }"
    BINDINGS: ClassVar = [Binding("escape", "cancel", "Cancel", id="topic_cancel")]

    def __init__(self, current: str | None) -> None:
        super().__init__()
        self.current = current

    def compose(self) -> ComposeResult:
        options = [Option(Text("any topic" + (" ✓" if not self.current else "")), id="")]
        for code, label in TOPICS.items():
            mark = " ✓" if code == self.current else ""
            options.append(Option(Text(f"{label}{mark}"), id=code))
        with Vertical():
            yield Static(Text("Show chats whose buyer last wrote about…"), classes="dialog-title")
            yield OptionList(*options, id="tp-list")
            yield Static(Text("Enter choose · Esc cancel"), classes="dialog-keys")

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id or "")

    def action_cancel(self) -> None:
        self.dismiss(None)
