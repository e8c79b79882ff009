"""All of Klaviyo's routes the sandbox serves."""

from __future__ import annotations

from sandbox import consent_api, data_privacy_api, import_jobs, lists_api, profiles_api
from sandbox.http import Route

ROUTES: list[Route] = [
    *profiles_api.ROUTES,
    *lists_api.ROUTES,
    *import_jobs.ROUTES,
    *consent_api.ROUTES,
    *data_privacy_api.ROUTES,
]
