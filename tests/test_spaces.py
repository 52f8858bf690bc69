"""The grammar of names: feature spaces, reconstruction methods and noise levels."""
import re

import pytest

from sdbrain.errors import InputError
from sdbrain.workflow import spaces


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


@pytest.mark.parametrize("strength, method", [(0.8, "zc0.8"), (0.5, "zc0.5"), (1.0, "zc1"), (0.25, "zc0.25")])
def test_method_names(strength, method):
    assert spaces.method(strength) == method
    assert spaces.methods([strength]) == ["z", "c", method]
    assert spaces.methods([strength], text=True) == ["z", "c", method, "text"]
    assert re.fullmatch(spaces.METHOD_PATTERN, method) and re.fullmatch(spaces.METHOD_PATTERN, "text")
    # the GAN init: gan alone without text (no caption to condition on), gan_text with it
    assert spaces.methods([strength], gan=True) == ["z", "c", method, "gan"]
    assert spaces.methods([strength], text=True, gan=True) == ["z", "c", method, "text", "gan", "gan_text"]
    # rule reconstruct makes gan_text, rule icnn makes gan; every method has a manifest
    assert re.fullmatch(spaces.METHOD_PATTERN, "gan_text") and not re.fullmatch(spaces.METHOD_PATTERN, "gan")
    assert all(re.fullmatch(spaces.ANY_METHOD_PATTERN, m) for m in spaces.methods([strength], True, True))


@pytest.mark.parametrize("name", ["zc", "zc1.5", "zc0", "x"])
def test_unknown_method_is_refused(name):
    with pytest.raises(InputError, match="expected z, c, text, gan, gan_text or zc<strength>"):
        spaces.parse_method(name)


@pytest.mark.parametrize("name, parsed", [("z", ("z", None)), ("c", ("c", None)), ("zc0.8", ("zc", 0.8)),
                                          ("zc1", ("zc", 1.0)), ("text", ("text", None)),
                                          ("gan", ("gan", None)), ("gan_text", ("gan_text", None))])
def test_parse_method(name, parsed):
    assert spaces.parse_method(name) == parsed


def test_level_text_is_the_name_as_written():
    assert spaces.parse("unet0.75-mid-late").level_text == "0.75"
    assert spaces.parse("zc1").level_text == "1"
    assert spaces.parse("z").level_text is None
