"""The Batch API and the Files it reads: plain endpoints over the same core as a request.

Pieces (each its own module):

* :mod:`._files`: the file store (``file-...`` ids, bytes kept as uploaded, file objects in
  the API's field order, the 200 MB limit and the shallow JSONL check of an upload).
* :mod:`._multipart`: a total ``multipart/form-data`` reader (a malformed form is a 400).
* :mod:`._store`: batches and their life cycle on the fake's clock (``validating ->
  in_progress -> finalizing -> completed``, ``failed``, ``expired``, ``cancelling ->
  cancelled``), batch-level validation (reported in ``errors.data``, never by the create
  call), the per-line run, the output and error files, ``request_counts`` and ``usage``.
* :mod:`._http`: ``FILES`` and ``BATCHES``, the endpoints the route table mounts.

The seam to the core is the **LineRunner** (:class:`._store.LineRunner`), which
:func:`._http.line_runner` builds on ``Service.run_body``: it answers one line's body as a
direct request would be answered (validation, exact token counts, the reply engine, the
session's scripted replies and failures, those aimed at the line's ``custom_id`` first),
without logging it, without the synchronous rate limits and billed at the profile's batch
price (``profile.batch.price_factor`` of ``profile.prices_for(model)``).
"""

from __future__ import annotations

from minidouble._endpoints._batch._http import BATCHES, FILES
from minidouble._endpoints._batch._store import BatchState, BatchTiming, LineRunner

__all__ = ["BATCHES", "FILES", "BatchState", "BatchTiming", "LineRunner"]
