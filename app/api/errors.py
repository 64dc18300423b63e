"""422 bodies that always render: the offending input is echoed in a JSON-safe form.

FastAPI's default handler echoes each error's `input` as is; a lone surrogate (`"\\ud800"`) then
cannot be encoded as UTF-8, and a non-finite number (`1e400` parses as inf) is not JSON, so the
422 became a 500.
"""

from __future__ import annotations

import math
from typing import Any

from fastapi import Request, status
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse


def json_safe(value: Any) -> Any:
    """`value` with lone surrogates written as `\\udxxx` text and non-finite floats as strings."""
    if isinstance(value, str):
        return value.encode("utf-8", "backslashreplace").decode("utf-8")
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {json_safe(key): json_safe(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(item) for item in value]
    return value


async def validation_error_handler(request: Request, exc: RequestValidationError) -> JSONResponse:
    """FastAPI's 422 body (`detail`: the list of errors, each naming its field in `loc`), made safe."""
    detail = json_safe(jsonable_encoder(exc.errors()))
    return JSONResponse({"detail": detail}, status_code=status.HTTP_422_UNPROCESSABLE_CONTENT)
