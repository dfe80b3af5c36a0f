"""Warnings the estimators raise, so that users can filter or escalate them by class."""

__all__ = ["SmallSampleWarning", "UnreliableEstimateWarning"]


class UnreliableEstimateWarning(UserWarning):
    """A fitted estimate failed its own self-check (e.g. a critic that is not normalised)."""


class SmallSampleWarning(UserWarning):
    """Too few rows for the estimate (or its interval) to mean much."""
