"""How answers are written on the wire: JSON bodies, SSE framing, response headers."""
