"""Implementation of :mod:`minidouble.strategies`; the only package that imports Hypothesis."""
