"""Helpers of the shop's browser tests: the screen sizes they run on, and numbered screenshots."""

from __future__ import annotations

from ..browser import artifacts

PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}
DESKTOP = {"viewport": {"width": 1280, "height": 900}}


class Shots:
    """Numbered full-page screenshots of each step."""

    def __init__(self, language: str):
        self.folder = artifacts(f"shop/{language}")
        self.count = 0

    def __call__(self, page, step: str) -> None:
        self.count += 1
        page.screenshot(path=str(self.folder / f"{self.count:02d}-{step}.png"), full_page=True)
