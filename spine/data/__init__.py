"""Inputs: price and signal files, the yfinance cache, the exchange calendar and the synthetic sample.

csv_table      reading a CSV with editor line numbers; the row rules (``Rule``) that name the first bad row
prices         ``PriceSeries`` and price files (one CSV per ticker): finding, loading and validating them
signals        ``SignalRecord`` and ``load_signals``: the signal feed, validated
signal_source  ``SignalSource``: signals fixed at start (``FixedSignals``) or from a file that grows (``SignalFile``)
calendar       ``ExchangeCalendar``: which days an exchange trades (XNYS)
yahoo_cache    daily prices from yfinance kept in a CSV cache: Spine's only network boundary
synthetic      the deterministic synthetic market of the bundled sample, demo and benchmarks
"""

from spine.data.calendar import ExchangeCalendar, exchange_calendar
from spine.data.prices import PriceSeries, load_price_file, load_prices, load_vix
from spine.data.signal_source import FixedSignals, SignalFile, SignalSource
from spine.data.signals import SignalRecord, load_signals

__all__ = [
    "ExchangeCalendar",
    "FixedSignals",
    "PriceSeries",
    "SignalFile",
    "SignalRecord",
    "SignalSource",
    "exchange_calendar",
    "load_price_file",
    "load_prices",
    "load_signals",
    "load_vix",
]
