"""Plans: the four built-in plans, YAML overrides with errors that name the field, and a hub core's plan."""

from __future__ import annotations

import pytest

from hub.core.hub import Hub, HubConfig
from hub.core.scope import HomeScope
from hub.tenancy.plans import DAY, PLANS, PlanError, plan_of, plans_from_config, use_plans


def test_builtin_plans_keep_history_as_the_issue_sells_them() -> None:
    spans = {name: plan.retention.day for name, plan in PLANS.items()}
    assert spans == {"free": 30 * DAY, "starter": 90 * DAY, "professional": 365 * DAY, "industrial": None}
    assert PLANS["free"].retention.raw == 30 * DAY and PLANS["industrial"].retention.raw is None
    assert [name for name, plan in PLANS.items() if plan.allows("models")] == ["professional", "industrial"]
    # Each larger plan allows at least as much as the one before.
    order = [PLANS[name].limits for name in ("free", "starter", "professional", "industrial")]
    for smaller, larger in zip(order, order[1:], strict=False):
        assert smaller.devices < larger.devices and smaller.entities < larger.entities
        assert smaller.messages_per_second < larger.messages_per_second


def test_yaml_overrides_a_builtin_plan_field_by_field_and_adds_plans() -> None:
    plans = plans_from_config(
        {
            "free": {"retention": {"raw": "14d"}, "limits": {"devices": 3}},
            "campus": {"extends": "professional", "limits": {"messages_per_second": None}},
            "lab": {"features": ["models"], "retention": {"day": None}},
        }
    )
    free = plans["free"]
    assert free.retention.raw == 14 * DAY and free.retention.hour == 30 * DAY  # the rest stays built-in
    assert free.limits.devices == 3 and free.limits.entities == PLANS["free"].limits.entities
    campus = plans["campus"]
    assert campus.name == "campus" and campus.limits.messages_per_second is None
    assert campus.features == PLANS["professional"].features and campus.retention == PLANS["professional"].retention
    lab = plans["lab"]  # a new plan without `extends` starts from free, as this section made it
    assert lab.allows("models") and lab.retention.day is None and lab.limits == free.limits
    assert lab.retention.raw == 14 * DAY
    assert plans["starter"] == PLANS["starter"]
    assert plans_from_config(None) == PLANS


@pytest.mark.parametrize(
    ("section", "expected"),
    [
        ({"free": {"limits": {"devices": 0}}}, "plans.free.limits.devices: expected a whole number of at least 1"),
        ({"free": {"limits": {"messages_per_second": "fast"}}}, "plans.free.limits.messages_per_second: expected a number"),
        ({"free": {"retention": {"raw": "a month"}}}, "plans.free.retention.raw: expected a duration"),
        ({"free": {"retention": {"week": "7d"}}}, "plans.free.retention.week: extra keys not allowed"),
        ({"free": {"features": ["teleport"]}}, "plans.free.features.0: unknown feature 'teleport'; known: models"),
        ({"gold": {"extends": "platinum"}}, "plans.gold.extends: no plan named 'platinum'"),
        ({"a": {"extends": "b"}, "b": {"extends": "a"}}, "plans: a, b extend each other in a circle"),
        ({"Gold Plan": {}}, "plans.Gold Plan: a plan name is lower-case letters, digits and _"),
    ],
)
def test_a_bad_plans_section_names_the_field(section: dict, expected: str) -> None:
    with pytest.raises(PlanError) as caught:
        plans_from_config(section)
    assert str(caught.value).startswith(expected), str(caught.value)


def test_a_hub_core_finds_its_plan_and_a_single_home_hub_has_none() -> None:
    assert plan_of(Hub(HubConfig())) is None  # single-home: no plan, no limits
    assert plan_of(Hub(HubConfig(plan="starter"))) == PLANS["starter"]
    custom = Hub(HubConfig(plan="campus", scope=HomeScope("acme", "plant")))
    use_plans(custom, plans_from_config({"campus": {"extends": "industrial"}}))
    assert plan_of(custom).name == "campus"
    with pytest.raises(PlanError, match=r"home acme/north: no plan named 'gold'; known: free, industrial"):
        plan_of(Hub(HubConfig(plan="gold", scope=HomeScope("acme", "north"))))
