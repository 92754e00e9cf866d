"""What GPT-4o mini *is*: profile, tokenizer, token accounting, image costs, strict schemas,
the error catalogue and request validation. Facts only: nothing here knows about HTTP
transports, state or endpoints' routing."""
