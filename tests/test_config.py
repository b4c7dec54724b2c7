"""Overrides: `--set` keys with nested groups, config-file layers, and their merge order."""

from __future__ import annotations

import pytest

from benchmarks.config import ConfigError, load_config_file, merge_overrides, parse_set_options


def test_dotted_set_keys_build_nested_groups():
    got = parse_set_options(
        [
            "rtrrl.compat.shared_action_key=true",
            "rtrrl.compat.unclipped_eval=false",
            "rtrrl.lr_rnn=1e-5",
            "budget.patience=5",
        ]
    )
    assert got == {
        "rtrrl": {"compat": {"shared_action_key": True, "unclipped_eval": False}, "lr_rnn": 1e-5},
        "budget": {"patience": 5},
    }


def test_a_key_cannot_be_a_value_and_a_group():
    with pytest.raises(ConfigError, match="as a value and as a group"):
        parse_set_options(["rtrrl.compat=1", "rtrrl.compat.shared_action_key=true"])


def test_later_layers_win_field_by_field_inside_groups(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text(
        "[agent.rtrrl]\nlr_rnn = 1e-3\n[agent.rtrrl.compat]\nshared_action_key = true\nunclipped_eval = true\n"
    )
    merged = merge_overrides(load_config_file(path), parse_set_options(["rtrrl.compat.unclipped_eval=false"]))
    assert merged == {"rtrrl": {"lr_rnn": 1e-3, "compat": {"shared_action_key": True, "unclipped_eval": False}}}


def test_merging_does_not_alias_the_layers():
    first = {"rtrrl": {"compat": {"a": 1}}}
    merged = merge_overrides(first, {"rtrrl": {"compat": {"b": 2}}})
    assert merged["rtrrl"]["compat"] == {"a": 1, "b": 2} and first == {"rtrrl": {"compat": {"a": 1}}}
