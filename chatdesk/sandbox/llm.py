"""A fake OpenAI-compatible chat-completions endpoint for tests and the demo (``/llm/v1``).

Deterministic: the draft is built from the JSON context chatdesk sends (the buyer's name, the
best past answer, else a polite holding reply), so tests can assert it exactly. The model name
chooses a fault: ``chatdesk-fake`` answers, ``chatdesk-fake-slow`` waits :data:`SLOW_SECONDS`
first, ``chatdesk-fake-500`` answers HTTP 500, ``chatdesk-fake-garbage`` answers 200 with a
body that is not JSON, ``chatdesk-fake-empty`` answers JSON without choices,
``chatdesk-fake-babble`` answers a completion whose text is prose, ``chatdesk-fake-unknown`` a
completion naming topics and message ids that do not exist.

Topic requests (the user message is a :func:`chatdesk.assist.llm.topics_context`, ``"task":
"topics"``) get ``{"topics": {"<id>": "<code>"}}`` from :func:`topic`: a few phrases the offline
rules miss, else the rules' own tag, so tests know each answer in advance.
"""

from __future__ import annotations

import json
import time
from typing import Any

import httpx

SLOW_SECONDS = 30.0
MODELS = (
    "chatdesk-fake",
    "chatdesk-fake-slow",
    "chatdesk-fake-500",
    "chatdesk-fake-garbage",
    "chatdesk-fake-empty",
    "chatdesk-fake-babble",
    "chatdesk-fake-unknown",
)

# What the fake "model" knows beyond the rules (folded text contains -> topic), first match wins.
_KNOWS = (
    ("не ту модель", "wrong_item"),
    ("не тот цвет", "wrong_item"),
    ("посудомо", "product"),
    ("когда отправ", "delivery"),
    ("заказ висит", "delivery"),
)


def topic(text: str) -> str:
    """The fake model's topic for one buyer message: a phrase of ``_KNOWS`` (first match,
    case- and ё-folded), else the offline rules' tag."""
    from chatdesk.assist import topics

    folded = (text or "").casefold().replace("ё", "е")
    for phrase, code in _KNOWS:
        if phrase in folded:
            return code
    return topics.classify(text).code


def topics_answer(context: dict[str, Any], model: str) -> str:
    """The completion text for a topic request."""
    items = context.get("messages") if isinstance(context.get("messages"), list) else []
    asked = [(str(m.get("id")), str(m.get("text") or "")) for m in items if isinstance(m, dict)]
    if model == "chatdesk-fake-babble":
        return "Конечно! Эти сообщения в основном про доставку и размеры, обращайтесь."
    if model == "chatdesk-fake-unknown":
        return json.dumps({"topics": {**{i: "погода" for i, _t in asked}, "999999999": "size"}}, ensure_ascii=False)
    return json.dumps({"topics": {i: topic(t) for i, t in asked}}, ensure_ascii=False)


def _json(obj: Any, status: int = 200) -> tuple[int, dict[str, str], bytes]:
    return status, {"content-type": "application/json"}, json.dumps(obj, ensure_ascii=False).encode()


def draft(context: dict[str, Any]) -> str:
    """The fake model's reply for a chatdesk context (see :func:`chatdesk.assist.llm.context`)."""
    chat = context.get("chat") if isinstance(context.get("chat"), dict) else {}
    customer = str(chat.get("customer") or "").strip()
    hello = f"Здравствуйте, {customer}!" if customer else "Здравствуйте!"
    past = context.get("past_answers") if isinstance(context.get("past_answers"), list) else []
    for item in past:
        if isinstance(item, dict) and isinstance(item.get("answer"), str) and item["answer"].strip():
            body = item["answer"].strip()
            break
    else:
        body = "Спасибо за вопрос, уточним информацию и ответим в этом чате в ближайшее время."
    if body.casefold().startswith(("здравствуйте", "добрый день")):
        return body  # the past answer greets already: no "Здравствуйте! Здравствуйте!"
    return f"{hello} {body}"


def handle(method: str, path: str, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, str], bytes]:
    """(status, headers, body) for a request under ``/llm``."""
    if method != "POST" or path.rstrip("/") not in ("/v1/chat/completions", "/chat/completions"):
        return _json({"error": {"message": f"no such endpoint: {method} {path}"}}, 404)
    try:
        request = json.loads(body or b"{}")
    except ValueError:
        return _json({"error": {"message": "body is not JSON"}}, 400)
    model = str(request.get("model") or "")
    if model not in MODELS:
        return _json({"error": {"message": f"unknown model {model!r}; try one of {', '.join(MODELS)}"}}, 404)
    if model == "chatdesk-fake-500":
        return _json({"error": {"message": "internal error (sandbox fault)"}}, 500)
    if model == "chatdesk-fake-garbage":
        return 200, {"content-type": "application/json"}, b"<html>not a completion"
    if model == "chatdesk-fake-empty":
        return _json({"id": "x", "object": "chat.completion", "choices": []})
    if model == "chatdesk-fake-slow":
        time.sleep(SLOW_SECONDS)
    messages = request.get("messages") if isinstance(request.get("messages"), list) else []
    context: dict[str, Any] = {}
    for m in reversed(messages):
        if isinstance(m, dict) and m.get("role") == "user":
            try:
                parsed = json.loads(str(m.get("content") or ""))
                context = parsed if isinstance(parsed, dict) else {}
            except ValueError:
                context = {}
            break
    if context.get("task") == "topics":
        text = topics_answer(context, model)
    elif model == "chatdesk-fake-babble":
        text = "Ну, это смотря как посмотреть."
    else:
        text = draft(context)
    return _json(
        {
            "id": "chatcmpl-sandbox",
            "object": "chat.completion",
            "created": 0,
            "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
        }
    )


def transport(sandbox) -> httpx.BaseTransport:  # type: ignore[no-untyped-def]
    """A synchronous in-process transport to ``sandbox``'s ``/llm`` (the demo's model)."""

    def handler(request: httpx.Request) -> httpx.Response:
        resp = sandbox.handle(request.method, request.url.path, {}, dict(request.headers), request.content)
        return httpx.Response(resp.status, headers=resp.headers, content=resp.body)

    return httpx.MockTransport(handler)
