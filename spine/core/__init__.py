"""The foundation: value types, pure rules and small utilities; imports nothing else from Spine.

errors       the one exception tree, by how a caller reacts (``SpineError`` and below)
clock        ``as_utc``: every timestamp as timezone-aware UTC
events       ``EventLog``: what happened during a run, dated on the run's clock
files        atomic file writes (``write_text_atomically``, ``write_json``)
labels       the research-only label every output carries
live_signal  ``LiveSignal`` and the provenance tags ``LIVE_SPINE`` / ``PROHIBITED_LLM_DISCOVERY_LINK``
numbers      reading numbers from outside: finite or ``None``
process      collector settings for the owner of a process (``run_frozen``)
resources    where the shipped config and the bundled sample are
sizing       ``size_position``: whole shares within weight, funds, risk budget and size limits
stops        ``RiskManager``: the ATR Smart Stop
tickers      what a ticker may look like
ticks        ``round_to_tick``: prices on the exchange's tick
"""

from spine.core.clock import as_utc
from spine.core.errors import BrokerError, ConfigError, DataError, InputError, SafetyError, SpineError
from spine.core.live_signal import DIRECT_TAG, PROPAGATED_TAG, LiveSignal, provenance_tag
from spine.core.numbers import finite_float, finite_int
from spine.core.sizing import SizeDecision, size_position
from spine.core.stops import RiskManager
from spine.core.ticks import round_to_tick

__all__ = [
    "DIRECT_TAG",
    "PROPAGATED_TAG",
    "BrokerError",
    "ConfigError",
    "DataError",
    "InputError",
    "LiveSignal",
    "RiskManager",
    "SafetyError",
    "SizeDecision",
    "SpineError",
    "as_utc",
    "finite_float",
    "finite_int",
    "provenance_tag",
    "round_to_tick",
    "size_position",
]
