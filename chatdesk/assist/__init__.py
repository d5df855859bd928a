"""Assist: reply suggestions (offline and model-backed), topics of buyer messages, and the
report. Headless: nothing here imports Textual."""
