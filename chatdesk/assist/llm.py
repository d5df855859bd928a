"""A reply drafted by a model the seller chooses: an OpenAI-compatible chat endpoint (local
llama.cpp / Ollama / vLLM, or a hosted one) and/or a command that reads a JSON context on stdin
and prints a draft. Configured in ``config.toml``::

    [assist]
    base_url = "http://127.0.0.1:11434/v1"   # https, or plain http to loopback only
    model = "qwen2.5:7b"
    command = ["/home/me/bin/draft"]         # instead of (or before) the endpoint; no shell
    timeout = 20                             # seconds, 1-120
    refine_topics = true                     # let it re-tag buyer messages the rules are unsure of

``refine_topics`` defaults to on for an endpoint on this machine and off otherwise: a hosted
endpoint would receive buyer messages in the background, and a draft ``command`` must know the
``"task": "topics"`` request (see :func:`topics_context`) before it is handed one.

The endpoint's key, if it needs one, is in the keyring only (``chatdesk assist key``) and is
sent only to that exact host (redirects are not followed). Without ``[assist]`` nothing leaves
the machine. A draft is a suggestion like any other: it lands in the composer, is rule-checked,
and is never sent by itself.

Errors come back as :class:`ModelError` with a sentence for a person, never an exception
class name or a key.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import signal
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx

from chatdesk import rules
from chatdesk.sanitize import safe_text

KEY_NAME = "@assist-model"
"""Keyring entry (service ``chatdesk``) holding the endpoint's key; not a valid account name."""
MAX_DRAFT = 4000
MAX_TIMEOUT = 120.0

SYSTEM_PROMPT = (
    "Ты помогаешь продавцу на маркетплейсе (Wildberries, Ozon, Яндекс Маркет) ответить покупателю. "
    "Тебе дан JSON: последние сообщения чата, товар, прошлые ответы продавца на похожие вопросы, шаблоны "
    "и правила маркетплейса. Напиши один короткий вежливый ответ от имени продавца, на русском, без ссылок, "
    "телефонов, e-mail, мессенджеров и реквизитов. Только текст ответа."
)


IN_PROCESS: dict[str, httpx.BaseTransport] = {}
"""base_url -> a transport that answers in-process (the demo's sandbox); never a real host."""


class ModelError(Exception):
    """The model could not draft a reply; ``str()`` is a plain sentence for the seller."""


@dataclass(frozen=True)
class AssistSettings:
    base_url: str | None = None
    model: str | None = None
    command: tuple[str, ...] = ()
    timeout: float = 20.0
    refine_topics: bool | None = None
    """None: the default (on for an endpoint on this machine, off otherwise)."""

    @property
    def enabled(self) -> bool:
        return bool(self.command) or bool(self.base_url and self.model)

    @property
    def host(self) -> str:
        return urlsplit(self.base_url or "").hostname or ""

    @property
    def remote(self) -> bool:
        """Whether drafts send chat text off this machine (an endpoint not on loopback)."""
        return bool(self.base_url) and not _loopback(self.host)

    @property
    def refines_topics(self) -> bool:
        """Whether unsure topic tags go to the model (in the background, after sync)."""
        if not self.enabled:
            return False
        if self.refine_topics is not None:
            return self.refine_topics
        return bool(self.base_url and self.model) and not self.remote


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def parse_settings(raw: Mapping[str, object]) -> AssistSettings:
    """``[assist]`` from config.toml; raises ValueError naming the problem."""
    known = {"base_url", "model", "command", "timeout", "refine_topics"}
    for key in raw:
        if key not in known:
            raise ValueError(f"unknown assist setting {key!r}; use {', '.join(sorted(known))}")
    base_url = raw.get("base_url")
    model = raw.get("model")
    command = raw.get("command", [])
    timeout = raw.get("timeout", 20.0)
    if base_url is not None:
        if not isinstance(base_url, str) or not base_url.strip():
            raise ValueError("assist.base_url must be a URL string")
        parts = urlsplit(base_url.strip())
        if parts.scheme not in ("https", "http") or not parts.hostname:
            raise ValueError("assist.base_url must be an https:// URL")
        if parts.scheme == "http" and not _loopback(parts.hostname):
            raise ValueError("assist.base_url must use https (plain http only to this machine: 127.0.0.1 or localhost)")
        if parts.username or parts.password:
            raise ValueError("assist.base_url must not carry a user or password; keep the key in the keyring")
        base_url = base_url.strip().rstrip("/")
        if not isinstance(model, str) or not model.strip():
            raise ValueError("assist.model must name the model when base_url is set")
    elif model is not None and not isinstance(model, str):
        raise ValueError("assist.model must be a string")
    if not isinstance(command, list) or not all(isinstance(c, str) and c and "\x00" not in c for c in command):
        raise ValueError('assist.command must be a command as a list of strings, like ["/path/to/script"]')
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not 1 <= timeout <= MAX_TIMEOUT:
        raise ValueError(f"assist.timeout must be a number of seconds from 1 to {MAX_TIMEOUT:g}")
    refine = raw.get("refine_topics")
    if refine is not None and not isinstance(refine, bool):
        raise ValueError("assist.refine_topics must be true or false")
    return AssistSettings(
        base_url=base_url,
        model=(model or None) if isinstance(model, str) else None,
        command=tuple(command),
        timeout=float(timeout),
        refine_topics=refine,
    )


def rules_in_words(marketplace: str, kind: str = "chat") -> list[str]:
    """What the marketplace allows, for the model (the same rules the rule check enforces)."""
    from chatdesk import marketplaces

    limits = rules.limits_for(marketplace, kind)
    text_limit = limits.max_text
    out = [
        "Нельзя: внешние ссылки, телефоны, e-mail, мессенджеры, номера карт, реквизиты, сторонние промокоды.",
        "Нельзя призывать к сделке вне маркетплейса.",
    ]
    if text_limit:
        out.append(f"Не длиннее {text_limit} символов.")
    window = marketplaces.get(marketplace).reply_window
    if window is not None:
        hours = int(window.total_seconds() // 3600)
        out.append(f"Ответ принимается только в течение {hours} часов после последнего сообщения покупателя.")
    return out


def context(
    *,
    marketplace: str,
    kind: str,
    chat: Mapping[str, object],
    messages: Sequence[Mapping[str, object]],
    past_answers: Sequence[Mapping[str, object]],
    templates: Sequence[Mapping[str, object]],
) -> dict[str, Any]:
    """The JSON a model or command receives: ``marketplace``, ``rules`` (in words), ``chat``
    (customer, order, product, status), ``messages`` (the last ones, oldest first: author, text,
    at), ``past_answers`` (question, answer, product), ``templates`` (name, text)."""
    return {
        "marketplace": marketplace,
        "kind": kind,
        "rules": rules_in_words(marketplace, kind),
        "chat": dict(chat),
        "messages": [dict(m) for m in messages],
        "past_answers": [dict(p) for p in past_answers],
        "templates": [dict(t) for t in templates],
    }


TOPIC_PROMPT = (
    "Ты классифицируешь сообщения покупателей маркетплейса по темам. Тебе дан JSON: "
    '"topics" (код темы -> описание) и "messages" (id и текст). Для каждого сообщения выбери '
    'ровно один код из "topics". Ответь только JSON без пояснений: {"topics": {"<id>": "<код>"}}.'
)
MAX_TOPIC_TEXT = 500
"""Characters of one buyer message sent for topic refinement (the start says what it is about)."""


def topics_context(taxonomy: Mapping[str, str], messages: Sequence[tuple[int, str]]) -> dict[str, Any]:
    """The JSON a model or command receives to refine topics: ``task`` = ``"topics"``,
    ``topics`` (code -> Russian label) and ``messages`` (``id`` as a string, ``text`` cut to
    :data:`MAX_TOPIC_TEXT` characters, one line). The answer expected:
    ``{"topics": {"<id>": "<code>"}}``."""
    return {
        "task": "topics",
        "topics": dict(taxonomy),
        "messages": [
            {"id": str(i), "text": safe_text(t, single_line=True, max_len=MAX_TOPIC_TEXT)} for i, t in messages
        ],
    }


def topics_call(
    settings: AssistSettings,
    ctx: dict[str, Any],
    *,
    key: str | None = None,
    transport: httpx.BaseTransport | None = None,
) -> ModelCall:
    """A :class:`ModelCall` for a :func:`topics_context`: the endpoint when one is configured
    (else the command), with the topic prompt; ``run()`` returns the raw answer text."""
    if settings.base_url and settings.model:
        settings = AssistSettings(settings.base_url, settings.model, (), settings.timeout, settings.refine_topics)
    return ModelCall(settings, ctx, key=key, transport=transport, system_prompt=TOPIC_PROMPT, temperature=0.0)


class Cancelled(ModelError):
    pass


class ModelCall:
    """One draft request; :meth:`cancel` from another thread aborts it (the HTTP connection is
    closed or the command is killed) and :meth:`run` then raises :class:`Cancelled`."""

    def __init__(
        self,
        settings: AssistSettings,
        ctx: dict[str, Any],
        *,
        key: str | None = None,
        transport: httpx.BaseTransport | None = None,
        system_prompt: str = SYSTEM_PROMPT,
        temperature: float = 0.3,
    ) -> None:
        self.settings = settings
        self.ctx = ctx
        self.key = key
        self.transport = transport
        self.system_prompt = system_prompt
        self.temperature = temperature
        self._cancelled = threading.Event()
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[bytes] | None = None
        self._http: httpx.Client | None = None

    def cancel(self) -> None:
        self._cancelled.set()
        with self._lock:
            if self._proc is not None and self._proc.poll() is None:
                with contextlib.suppress(OSError):
                    os.killpg(self._proc.pid, signal.SIGKILL)
            if self._http is not None:
                self._http.close()

    def run(self) -> tuple[str, str]:
        """(draft, who drafted it in words). Raises ModelError (or Cancelled)."""
        if not self.settings.enabled:
            raise ModelError("no model is configured: add [assist] to config.toml (see the README)")
        if self.settings.command:
            return self._command(), f"your command {os.path.basename(self.settings.command[0])}"
        return self._endpoint(), f"{self.settings.model} at {self.settings.host}"

    # ------------------------------------------------------------------ argv command
    def _command(self) -> str:
        data = json.dumps(self.ctx, ensure_ascii=False).encode()
        env = {k: v for k, v in os.environ.items() if k != "CHATDESK_KEYRING_PASSPHRASE"}
        try:
            with self._lock:
                if self._cancelled.is_set():
                    raise Cancelled("cancelled")
                self._proc = subprocess.Popen(
                    list(self.settings.command),
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    env=env,
                    close_fds=True,
                    start_new_session=True,
                )
            proc = self._proc
        except OSError as exc:
            raise ModelError(f"cannot start {self.settings.command[0]}: {exc.strerror or exc}") from None
        try:
            out, err = proc.communicate(data, timeout=self.settings.timeout)
        except subprocess.TimeoutExpired:
            self.cancel()
            proc.wait()
            raise ModelError(f"the draft command did not finish within {self.settings.timeout:g} s") from None
        if self._cancelled.is_set():
            raise Cancelled("cancelled")
        if proc.returncode:
            first = err.decode("utf-8", "replace").strip().splitlines()[:1]
            why = f": {safe_text(first[0], single_line=True, max_len=200)}" if first else ""
            raise ModelError(f"the draft command failed (exit {proc.returncode}){why}")
        return _clean(out.decode("utf-8", "replace"))

    # ------------------------------------------------------------------ OpenAI-compatible endpoint
    def _endpoint(self) -> str:
        import openai

        s = self.settings
        assert s.base_url and s.model
        with self._lock:
            if self._cancelled.is_set():
                raise Cancelled("cancelled")
            self._http = httpx.Client(
                transport=self.transport or IN_PROCESS.get(s.base_url),
                timeout=httpx.Timeout(s.timeout, connect=min(10.0, s.timeout)),
                follow_redirects=False,  # the key goes to the configured host only
            )
        client = openai.OpenAI(
            base_url=s.base_url,
            api_key=self.key or "none",
            max_retries=0,
            timeout=s.timeout,
            http_client=self._http,  # type: ignore[arg-type]  # openai 3 types it as httpx2.Client; httpx's is accepted
        )
        outcome: dict[str, Any] = {}
        done = threading.Event()

        def request() -> None:
            try:
                outcome["reply"] = client.chat.completions.create(
                    model=s.model,  # type: ignore[arg-type]
                    messages=[
                        {"role": "system", "content": self.system_prompt},
                        {"role": "user", "content": json.dumps(self.ctx, ensure_ascii=False)},
                    ],
                    temperature=self.temperature,
                    max_tokens=600,
                )
            except Exception as exc:
                outcome["error"] = exc
            finally:
                done.set()

        # A blocked read cannot be interrupted from here, so the request runs in its own thread
        # (bounded by the timeout) and a cancel returns at once, dropping its answer.
        # httpx's timeout bounds each read, not the whole answer (a server that trickles bytes or
        # retries inside a proxy can take many times longer), so the promised total is kept here.
        threading.Thread(target=request, name="chatdesk-model", daemon=True).start()
        deadline = time.monotonic() + s.timeout
        while not done.wait(0.05):
            if self._cancelled.is_set():
                raise Cancelled("cancelled")
            if time.monotonic() >= deadline:
                self._http.close()
                raise ModelError(f"the model at {s.host} did not answer within {s.timeout:g} s")
        self._http.close()
        if self._cancelled.is_set():
            raise Cancelled("cancelled")
        if "error" in outcome:
            raise ModelError(_explain(outcome["error"], s)) from None
        reply = outcome["reply"]
        try:
            text = reply.choices[0].message.content
        except (AttributeError, IndexError, TypeError):
            text = None
        if not isinstance(text, str) or not text.strip():
            raise ModelError(f"the model at {s.host} answered without a reply text")
        return _clean(text)


def _clean(text: str) -> str:
    out = safe_text(text).strip()
    if not out:
        raise ModelError("the model's draft was empty")
    return out[:MAX_DRAFT]


def _explain(exc: BaseException, s: AssistSettings) -> str:
    """A sentence for the seller; never the exception's own text (it may quote a header)."""
    import openai

    host = s.host
    if isinstance(exc, openai.APITimeoutError):
        return f"the model at {host} did not answer within {s.timeout:g} s"
    if isinstance(exc, openai.APIConnectionError):
        return f"cannot reach the model at {host}: is it running, and is base_url right?"
    if isinstance(exc, openai.AuthenticationError | openai.PermissionDeniedError):
        return f"the model at {host} refused the key (HTTP {exc.status_code}); set it with: chatdesk assist key"
    if isinstance(exc, openai.NotFoundError):
        return f"the model at {host} does not know model {s.model!r} or the path (HTTP 404)"
    if isinstance(exc, openai.RateLimitError):
        return f"the model at {host} is rate limiting (HTTP 429); try again in a moment"
    if isinstance(exc, openai.APIStatusError):
        return f"the model at {host} failed (HTTP {exc.status_code})"
    if isinstance(exc, openai.APIResponseValidationError | json.JSONDecodeError | ValueError):
        return f"the model at {host} answered something that is not a chat completion"
    return f"the model at {host} could not draft a reply"
