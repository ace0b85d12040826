"""Limits from groups (`UsageLimits.policy_for`): the most generous group, the user's own
overrides on top; and the request quotas per day and month."""

from __future__ import annotations

import pytest

from gpuchat.core.config import Settings
from gpuchat.core.errors import GatewayError
from gpuchat.core.security import Principal
from gpuchat.db.models import Group
from gpuchat.db.repositories.groups import allowed_models
from gpuchat.services.limits.quotas import Policy, UsageLimits
from gpuchat.services.limits.store import LimitStore
from tests.utils.gateway import RunningGateway


def limits_with(gateway: RunningGateway, **settings: int) -> UsageLimits:
    return UsageLimits(Settings(**settings), LimitStore(None), gateway.state.sessions)


def member(*group_limits: dict[str, int], own: dict[str, int] | None = None) -> Principal:
    return Principal(1, "a@example.com", "user", limits=own, group_limits=group_limits)


def test_most_generous_takes_the_largest_and_no_limit_beats_any() -> None:
    merged = Policy.most_generous(
        [
            Policy(requests_per_minute=5, tokens_per_day=0),
            Policy(requests_per_minute=9, tokens_per_day=7),
        ]
    )
    assert (merged.requests_per_minute, merged.tokens_per_day) == (9, 0)


async def test_policy_is_the_groups_best_then_the_users_own(gateway: RunningGateway) -> None:
    limits = limits_with(gateway, user_requests_per_minute=10, user_tokens_per_day=100)
    assert limits.policy_for(member()).requests_per_minute == 10  # no group: the defaults
    strict = member({"requests_per_minute": 2}, {"requests_per_minute": 3})
    assert limits.policy_for(strict).requests_per_minute == 3
    # A group that leaves a limit unset gives the default for it (here 10 and 100).
    loose = member({"requests_per_minute": 2, "tokens_per_day": 50}, {})
    assert (
        limits.policy_for(loose).requests_per_minute,
        limits.policy_for(loose).tokens_per_day,
    ) == (
        10,
        100,
    )
    own = member({"requests_per_minute": 0}, own={"requests_per_minute": 1})
    assert limits.policy_for(own).requests_per_minute == 1  # the user's own limit wins


async def test_request_quota_refuses_once_used_up_and_counts_no_refusal(
    gateway: RunningGateway,
) -> None:
    limits = limits_with(gateway)
    principal = Principal(987_654, "q@example.com", "user", group_limits=({"requests_per_day": 2},))
    for _ in range(2):
        (await limits.admit(principal)).release()
    for _ in range(2):
        with pytest.raises(GatewayError) as refused:
            await limits.admit(principal)
        assert refused.value.status == 429 and refused.value.code == "quota_exceeded"
    # A bigger quota now: the refusals above were not counted, so one more fits exactly.
    wider = Principal(987_654, "q@example.com", "user", group_limits=({"requests_per_day": 3},))
    (await limits.admit(wider)).release()
    with pytest.raises(GatewayError):
        await limits.admit(wider)


def test_allowed_models_is_the_union_and_an_open_group_allows_all() -> None:
    a, b, open_group = Group(models=["x"]), Group(models=["y", "x"]), Group(models=[])
    assert allowed_models([]) is None
    assert allowed_models([a, b]) == ("x", "y")
    assert allowed_models([a, open_group]) is None
