"""Agents behind one protocol (`agents.base.Agent`) and the registry the CLI reads.

Add an agent: write a frozen config dataclass (every field with a paper default and a
docstring), a frozen agent dataclass implementing `Agent`, and call `register_agent` with where
its defaults come from (`agents.sources.ConfigSource`).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from agents.base import Agent, TrainMetrics
from agents.ppo import (
    PPOAgent,
    PPOConfig,
    PPOCTRNNAgent,
    PPOCTRNNConfig,
    PPOGRUAgent,
    PPOGRUConfig,
    PPOLSTMAgent,
    PPOLSTMConfig,
)
from agents.presets import PRESETS, Preset, label, register_preset, split_label
from agents.random_agent import RandomAgent, RandomConfig
from agents.rtrrl import (
    LinearTDAgent,
    LinearTDConfig,
    LRUAgent,
    LRUConfig,
    RTRLAgent,
    RTRLConfig,
    RTRRLAgent,
    RTRRLConfig,
)
from agents.sources import (
    PPO_CTRNN,
    PUREJAXRL_PPO,
    PUREJAXRL_PPO_RNN,
    RANDOM,
    RTRRL_SCREEN,
    TABLE1,
    UNRECORDED,
    ConfigSource,
)

AGENTS: dict[str, tuple[type, type]] = {}
"""name -> (agent class, config class)."""
SOURCES: dict[str, ConfigSource] = {}
"""name -> where its default config comes from."""


def register_agent(agent_cls: type, config_cls: type, source: ConfigSource = UNRECORDED) -> None:
    """Make an agent available by its `name` to the runner and the CLI. Without a `source` its
    runs say `unrecorded`: a plugin runs, but nobody mistakes its defaults for chosen ones."""
    name = agent_cls.name
    if name in AGENTS and AGENTS[name] != (agent_cls, config_cls):
        raise ValueError(f"agent {name!r} is already registered")
    AGENTS[name] = (agent_cls, config_cls)
    SOURCES[name] = source


def make_agent(name: str, config: Any = None) -> Agent:
    """Build a registered agent from its config (default config when None)."""
    agent_cls, config_cls = AGENTS[name]
    return agent_cls(config=config if config is not None else config_cls())


def default_config(name: str) -> Any:
    return AGENTS[name][1]()


def preset_config(name: str, preset: str | None = None) -> Any:
    """The agent's default config with a named preset's values applied (`agents.presets`)."""
    cfg = default_config(name)
    if preset is None:
        return cfg
    available = PRESETS.get(name, {})
    if preset not in available:
        valid = ", ".join(available) if available else "none"
        raise KeyError(f"agent {name!r} has no preset {preset!r} (its presets: {valid})")
    return dataclasses.replace(cfg, **dict(available[preset].settings))


def config_source(name: str, preset: str | None = None) -> ConfigSource:
    """Where the agent's default config, or its preset, comes from."""
    return SOURCES[name] if preset is None else PRESETS[name][preset].source


def config_overrides(name: str, preset: str | None, cfg: Any) -> dict[str, Any]:
    """Every field where `cfg` departs from the config its source describes (the agent's default or
    its preset), by its `--set` name: a source says nothing about what a run changed."""
    base = {k: v for k, v, _ in flat_fields(preset_config(name, preset))}
    return {k: v for k, v, _ in flat_fields(cfg) if k not in base or base[k] != v}


def config_fields(name: str) -> list[tuple[str, Any, str]]:
    """(field, default, type) of an agent's hyperparameters, for `list` and docs; a nested group's
    fields are named `group.field`, as `--set` takes them."""
    return flat_fields(default_config(name))


def flat_fields(cfg: Any, prefix: str = "") -> list[tuple[str, Any, str]]:
    """(dotted name, value, type) of every leaf field of a config dataclass."""
    out = []
    for f in dataclasses.fields(cfg):
        value = getattr(cfg, f.name)
        if dataclasses.is_dataclass(value):
            out += flat_fields(value, f"{prefix}{f.name}.")
        else:
            out.append((f"{prefix}{f.name}", value, str(f.type)))
    return out


register_agent(RandomAgent, RandomConfig, RANDOM)
register_agent(RTRRLAgent, RTRRLConfig, RTRRL_SCREEN)
register_agent(RTRLAgent, RTRLConfig, TABLE1)
register_agent(LRUAgent, LRUConfig, TABLE1)
register_agent(LinearTDAgent, LinearTDConfig, TABLE1)
register_agent(PPOAgent, PPOConfig, PUREJAXRL_PPO)
register_agent(PPOGRUAgent, PPOGRUConfig, PUREJAXRL_PPO_RNN)
register_agent(PPOLSTMAgent, PPOLSTMConfig, PUREJAXRL_PPO_RNN)
register_agent(PPOCTRNNAgent, PPOCTRNNConfig, PPO_CTRNN)

__all__ = [
    "AGENTS",
    "PRESETS",
    "SOURCES",
    "Agent",
    "ConfigSource",
    "Preset",
    "TrainMetrics",
    "register_agent",
    "register_preset",
    "make_agent",
    "default_config",
    "preset_config",
    "config_fields",
    "config_source",
    "config_overrides",
    "flat_fields",
    "label",
    "split_label",
]
