"""The webscan HTTP service: the static scanner and signature feed behind FastAPI."""

from webscan.service.app import create_app

__all__ = ["create_app"]
