"""Splitting an outgoing message into the requests a marketplace accepts."""

from __future__ import annotations

from chatdesk.model import Limits
from chatdesk.usecases.replies import split_parts

F1 = {"name": "a.jpg", "size": 1, "content_type": "image/jpeg", "path": "/x/a.jpg"}
F2 = {"name": "b.pdf", "size": 1, "content_type": "application/pdf", "path": "/x/b.pdf"}


def test_ozon_sends_text_and_each_file_apart() -> None:
    ozon = Limits(max_text=1000, max_files=1, text_with_files=False)
    assert split_parts(ozon, "Фото чека", [F1, F2]) == [("Фото чека", []), ("", [F1]), ("", [F2])]
    assert split_parts(ozon, "", [F1]) == [("", [F1])]


def test_wb_sends_text_with_files_in_one_request() -> None:
    wb = Limits(max_text=1000)
    assert split_parts(wb, "Чек", [F1, F2]) == [("Чек", [F1, F2])]
    assert split_parts(wb, "Просто текст", []) == [("Просто текст", [])]
