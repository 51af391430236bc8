"""Treatment assignment: a customer's arm of a campaign, by hash, stable across runs and independent of the holdout."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

SCALE = 10_000  # assignment resolution: a share of 1 % is 100 buckets


def bucket(campaign_id: str, customer_id: str) -> int:
    """The customer's assignment bucket in [0, SCALE) for this campaign.

    Salted with "treatment": the holdout hashes campaign + customer alone, so the two splits are independent
    (each arm gets the same share of held-out customers as of treated ones).
    """
    digest = hashlib.sha256(f"treatment\x00{campaign_id}\x00{customer_id}".encode()).hexdigest()
    return int(digest, 16) % SCALE


def arm_index(campaign_id: str, customer_id: str, shares: Sequence[int]) -> int:
    """Which of the treatments (shares in percent, summing to 100) the customer gets: buckets are dealt out in
    order, [0, s1·100) to the first, the next s2·100 to the second, ...; shares not summing to 100 are scaled."""
    total = sum(shares)
    if total <= 0:
        return 0
    point = bucket(campaign_id, customer_id) * total
    edge = 0
    for i, share in enumerate(shares):
        edge += share * SCALE
        if point < edge:
            return i
    return len(shares) - 1
