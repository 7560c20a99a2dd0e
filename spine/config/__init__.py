"""The configuration: typed, frozen, validated, loaded from a config folder and passed in explicitly.

    models  the pydantic models, one per section (``RiskLimits``, ``KillSwitchSettings``, ...),
            and ``SpineConfig``, the whole configuration
    loader  ``load_config(folder)``: read the YAML files, one ``ConfigError`` per problem
    yaml_file  hardened YAML for every file Spine reads: size, UTF-8, aliases, depth, duplicate keys, .inf
    overrides  ``--set KEY=VALUE``: dotted keys set in the file bodies before they are validated

``from spine.config import load_config, SpineConfig`` is the usual entry.
"""

from spine.config.loader import (
    SHIPPED_CONFIG_DIR,
    describe_error,
    load_config,
    model_at,
    refuse_non_finite,
)
from spine.config.models import (
    BacktestSettings,
    BrokerSettings,
    CircuitBreakerSettings,
    ComplianceSettings,
    ExecutionAccounts,
    IBConnection,
    KillSwitchSettings,
    PaperSettings,
    PositionSizing,
    RiskLimits,
    SlippageSettings,
    SpineConfig,
    StrategySettings,
    SweepSettings,
    TradingSection,
)
from spine.config.yaml_file import parse_yaml, read_yaml_file, shown

__all__ = [
    "SHIPPED_CONFIG_DIR",
    "BacktestSettings",
    "BrokerSettings",
    "CircuitBreakerSettings",
    "ComplianceSettings",
    "ExecutionAccounts",
    "IBConnection",
    "KillSwitchSettings",
    "PaperSettings",
    "PositionSizing",
    "RiskLimits",
    "SlippageSettings",
    "SpineConfig",
    "StrategySettings",
    "SweepSettings",
    "TradingSection",
    "describe_error",
    "load_config",
    "model_at",
    "parse_yaml",
    "read_yaml_file",
    "refuse_non_finite",
    "shown",
]
