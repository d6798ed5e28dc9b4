"""Lookups that found nothing the caller may see."""

from __future__ import annotations


class NotFound(Exception):
    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail
