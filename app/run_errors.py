"""The service's error vocabulary: what the store, the supervisor and the routes raise when a
request about a run cannot be served. `app.main` maps each to its HTTP status once; the OpenAPI
descriptions of those statuses are `app.models.NOT_FOUND` and `app.models.CONFLICT`."""

from __future__ import annotations


class RunNotFound(Exception):
    """No such run, or no such file of it (HTTP 404). The message says which."""


class RunConflict(Exception):
    """The run's state, or one of its files, does not allow the request (HTTP 409)."""


class RunExists(RunConflict):
    """A run with that id exists already (HTTP 409 unless the caller finds the request idempotent)."""
