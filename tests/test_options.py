"""Unit options are checked against the unit's constructor defaults (issue 11 point 4)."""

import pytest
from omegaconf import OmegaConf

from freedarts_cli.errors import UserError
from freedarts_cli.options import check_unit_options


def unit(**options):
    return OmegaConf.create(
        {"space": {"_target_": "freedarts_cli.spaces.nb201.NB201Space", **options}}
    ).space


@pytest.mark.parametrize(
    "options, message",
    [
        ({"N": 0}, "space.N=0 is not a positive integer: use e.g. space.N=5"),
        ({"N": 1.5}, "space.N=1.5 is not an integer"),
        ({"N": True}, "space.N=True is a boolean, not a number"),
        ({"C": "abc"}, "space.C=abc is not an integer"),
    ],
)
def test_a_bad_option_names_itself_and_the_default(options, message):
    with pytest.raises(UserError, match=message.replace(".", r"\.")):
        check_unit_options(unit(**options))


def test_good_options_pass_and_none_defaults_are_the_units_business():
    check_unit_options(unit(N=1, C=8, input_size=32))


def test_an_interpolated_option_is_named_as_the_user_set_it():
    cfg = OmegaConf.create(
        {
            "n_models": 0,
            "method": {
                "_target_": "freedarts_cli.methods.evolution.RandomSearch",
                "n_models": "${n_models}",
            },
        }
    )
    with pytest.raises(UserError, match=r"^n_models=0 is not a positive integer"):
        check_unit_options(cfg.method)


def test_a_zero_default_allows_zero_but_not_negatives():
    cfg = OmegaConf.create(
        {"method": {"_target_": "freedarts_cli.methods.evolution.Evolution", "warmup": 0}}
    )
    check_unit_options(cfg.method)
    cfg.method.warmup = -1
    with pytest.raises(UserError, match="method.warmup=-1 is negative"):
        check_unit_options(cfg.method)
