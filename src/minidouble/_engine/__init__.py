"""How the fake answers: deterministic replies and values that satisfy a JSON schema."""
