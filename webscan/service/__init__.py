"""The webscan verdict service: reports, shared verdicts, audits, static scans and the
signature feed, behind FastAPI."""

from webscan.service.app import create_app

__all__ = ["create_app"]
