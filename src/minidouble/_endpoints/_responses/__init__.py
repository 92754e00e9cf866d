"""The Responses API (``POST /v1/responses``) served by the same core as Chat Completions.

``_mapping`` rewrites a Responses request as the chat request the model reads (one token
counter, one generator); ``_validate`` applies the Responses parameter rules; ``_wire`` writes
the ``response`` object and its typed stream events; ``_handler`` is the endpoint module the
route table points at.
"""

from __future__ import annotations

from minidouble._endpoints._responses._mapping import to_chat_body
from minidouble._endpoints._responses._validate import check_responses_request

__all__ = ["check_responses_request", "to_chat_body"]
