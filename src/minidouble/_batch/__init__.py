"""The Batch API and the Files it reads, over the same core as a direct request.

Pieces (each its own module):

* :mod:`._files`: the file store (``file-...`` ids, bytes kept as uploaded, file objects in
  the API's field order, the 200 MB limit and the shallow JSONL check of an upload).
* :mod:`._multipart`: a total ``multipart/form-data`` reader (a malformed form is a 400).
* :mod:`._store`: batches and their life cycle on an injected clock (``validating ->
  in_progress -> finalizing -> completed``, ``failed``, ``expired``, ``cancelling ->
  cancelled``), batch-level validation (reported in ``errors.data``, never by the create
  call), the per-line run, the output and error files, ``request_counts``, ``usage`` and
  the bill at the batch price.
* :mod:`._endpoints`: ``handle(request, state, run)``, the HTTP face of all of it.

The seam to the core is the **LineRunner** (:class:`._store.LineRunner`)::

    def run(url: str, body: dict, custom_id: str) -> tuple[int, dict]: ...

It answers one line's ``body`` as a direct ``POST url`` would be answered (validation,
exact token counts, the reply engine, scripted replies and failures), without logging it as
a request and without the synchronous rate limits, and returns ``(status, json_body)``:
the completion or response object on 200, the API's ``{"error": {...}}`` otherwise. The
batch bills each 200 from the body's ``usage`` and ``model`` at the profile's batch price
(``profile.batch.price_factor`` of ``profile.prices_for(model)``).
"""

from __future__ import annotations

from minidouble._batch._endpoints import handle, is_batch_path
from minidouble._batch._store import BatchState, BatchTiming, LineRunner

__all__ = ["BatchState", "BatchTiming", "LineRunner", "handle", "is_batch_path"]
