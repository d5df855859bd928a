"""chatdesk: one keyboard-driven terminal inbox for Wildberries, Ozon and Yandex Market buyer chats."""

__version__ = "0.1.0"
