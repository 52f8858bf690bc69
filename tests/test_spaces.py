"""Feature-space names and the set of encoding models a config asks for."""
import pytest

from sdbrain import spaces
from sdbrain.errors import InputError

STEPS = {"early": 0.0, "middle": 0.5, "late": 1.0}
LAYERS = {"down1": "down_blocks.0", "mid": "mid_block"}


@pytest.mark.parametrize("name, kind, level, layer, step, feature", [
    ("z", "z", None, None, None, "z"),
    ("c", "c", None, None, None, "c"),
    ("zc0.5", "zc", 0.5, None, None, "zc"),
    ("zc0.75-early", "zc", 0.75, None, "early", "zc-early"),
    ("unet0.25-down1-late", "unet", 0.25, "down1", "late", "unet-down1-late"),
    ("unet1-mid-middle", "unet", 1.0, "mid", "middle", "unet-mid-middle"),
])
def test_parse(name, kind, level, layer, step, feature):
    space = spaces.parse(name)
    assert (space.kind, space.level, space.layer, space.step, space.feature) == (kind, level, layer, step, feature)
    if level is not None:
        assert spaces.name(feature, level) == name


@pytest.mark.parametrize("name", ["zc", "zc1.5", "zc0", "z0.5", "unet0.5-early", "unet0.5", "c-early", "zc0.5.1", "x"])
def test_bad_names_are_refused(name):
    with pytest.raises(InputError, match=f"feature space '{name}'"):
        spaces.parse(name)


def test_plan():
    plan = spaces.plan({"noise_levels": [0.25, 0.5], "step_levels": [0.5]}, STEPS, LAYERS)
    assert plan.single[:4] == ["z", "c", "zc0.25", "zc0.5"]
    assert plan.joint == ["zc0.25", "zc0.5", "zc0.5-early", "zc0.5-middle", "zc0.5-late"]
    assert plan.layer_groups == {"unet0.5-early": ["unet0.5-down1-early", "unet0.5-mid-early"],
                                 "unet0.5-middle": ["unet0.5-down1-middle", "unet0.5-mid-middle"],
                                 "unet0.5-late": ["unet0.5-down1-late", "unet0.5-mid-late"]}
    assert len(plan.single) == 4 + 3 + 6 and len(set(plan.single)) == len(plan.single)
    assert plan.captured_levels == [0.5]
    for name in plan.single + plan.joint:
        spaces.parse(name)  # every planned name is valid
