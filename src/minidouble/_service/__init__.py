"""The service around the model: pipeline, state, rate limiter, latency, budget, faults and
end-of-test checks."""
