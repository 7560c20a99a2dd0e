"""A deterministic SYNTHETIC market: prices, a VIX-like index and a signal feed.

Nothing here is real market data. The series are random walks drawn from a seeded
``numpy.random.Generator`` so that the bundled sample (``data/sample/``), the demo and
the benchmarks are reproducible bit for bit, need no network and carry no licence.

The shape is chosen to exercise the harness: daily volatility near 2% with a common
market factor, OHLC bars that are internally consistent and rounded to cents, one
market-wide crash day on which every ticker gaps 8-10% down at the open and loses
another 4-7% by the close (deep enough to trip a 5% one-day drawdown breaker, even
through 2-ATR stops, which fill at the gapped open) while the synthetic VIX jumps above
45, and a signal feed that mixes direct signals with signals propagated from another
ticker. The signals have a little synthetic skill (their direction agrees with the next
two weeks' move about 65% of the time), and the sample's feed crowds into longs in the
days before the crash, as a momentum book would.

Regenerate the sample with ``python -m spine.data.synthetic --out data/sample``.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from spine.core.files import write_text_atomically

__all__ = [
    "SAMPLE_BARS",
    "SAMPLE_SEED",
    "SAMPLE_START",
    "SAMPLE_TICKERS",
    "generate_prices",
    "generate_signals",
    "generate_vix",
    "sample_crash_at",
    "write_sample",
]

SAMPLE_TICKERS = ("ALPH", "BRVO", "CHRL", "DLTA", "ECHO")
SAMPLE_BARS = 750
SAMPLE_START = "2021-01-04"
SAMPLE_SEED = 20210104

DAILY_VOL = 0.02  # total daily volatility of a ticker
MARKET_SHARE = 0.6  # fraction of the variance that is the common market factor
GAP_VOL = 0.004  # overnight gap, as a fraction of the previous close
CRASH_GAP = (-0.10, -0.08)  # overnight gap of every ticker into the crash day (log)
CRASH_DROP = (0.04, 0.07)  # further open-to-close loss on the crash day
SIGNAL_SKILL = 0.3  # share of signals whose direction follows the next two weeks' move
SKILL_HORIZON = 10  # bars
VIX_CRASH_CLOSE = (48.0, 56.0)
NOTES_DIRECT = (
    "earnings surprise",
    "guidance change",
    "analyst revision",
    "product news",
)
NOTES_PROPAGATED = ("supplier news", "customer news", "supply-chain link")


def sample_crash_at(n_bars: int = SAMPLE_BARS) -> int:
    """The bar of the sample's crash: about 80% of the way through."""
    return round(n_bars * 0.8)


def generate_prices(
    tickers: Sequence[str],
    n_bars: int,
    start: str = SAMPLE_START,
    seed: int = SAMPLE_SEED,
    crash_at: int | None = None,
) -> dict[str, pd.DataFrame]:
    """Daily OHLCV bars on business days for each ticker, as frames indexed by ``datetime``.

    Close-to-close returns are a common market factor plus an idiosyncratic part
    (geometric random walk, ~2% a day). ``crash_at`` (a bar index) makes every ticker
    lose 12-15% between that bar's open and close. Columns: open, high, low, close
    (float, cents) and volume (int, 1-5 million).
    """
    tickers = [str(t).upper() for t in tickers]
    if n_bars < 1:
        raise ValueError(f"n_bars must be at least 1 (got {n_bars})")
    if crash_at is not None and not 0 < crash_at < n_bars:
        raise ValueError(f"crash_at must be a bar index in 1..{n_bars - 1} (got {crash_at})")
    rng = np.random.default_rng(seed)
    n = len(tickers)
    dates = pd.bdate_range(start=start, periods=n_bars, name="datetime")

    market_vol = DAILY_VOL * np.sqrt(MARKET_SHARE)
    own_vol = DAILY_VOL * np.sqrt(1 - MARKET_SHARE)
    drift = rng.uniform(0.0, 0.0006, size=n)
    market = rng.normal(0.0, market_vol, size=(n_bars, 1))
    own = rng.normal(0.0, own_vol, size=(n_bars, n))
    log_returns = drift + market + own - DAILY_VOL**2 / 2  # close to close

    gaps = rng.normal(0.0, GAP_VOL, size=(n_bars, n))
    if crash_at is not None:
        drop = rng.uniform(*CRASH_DROP, size=n)
        gaps[crash_at] = rng.uniform(*CRASH_GAP, size=n)
        log_returns[crash_at] = gaps[crash_at] + np.log1p(-drop)
    log_returns[0] = 0.0
    first = rng.uniform(20.0, 200.0, size=n)
    closes = first * np.exp(np.cumsum(log_returns, axis=0))
    previous = np.vstack([closes[:1] * np.exp(-gaps[:1]), closes[:-1]])
    opens = previous * np.exp(gaps)

    opens = np.maximum(np.round(opens, 2), 0.01)
    closes = np.maximum(np.round(closes, 2), 0.01)
    reach = np.abs(rng.normal(0.0, 0.008, size=(2, n_bars, n)))
    highs = np.ceil(np.maximum(opens, closes) * (1 + reach[0]) * 100) / 100
    lows = np.floor(np.minimum(opens, closes) * (1 - reach[1]) * 100) / 100
    lows = np.clip(lows, 0.01, np.minimum(opens, closes))
    highs = np.maximum(highs, np.maximum(opens, closes))

    volume = np.exp(rng.normal(np.log(2.2e6), 0.3, size=(n_bars, n)))
    if crash_at is not None:
        volume[crash_at] = rng.uniform(4.5e6, 5e6, size=n)
    volume = np.clip(np.round(volume), 1_000_000, 5_000_000).astype(np.int64)

    return {
        ticker: pd.DataFrame(
            {
                "open": opens[:, j],
                "high": highs[:, j],
                "low": lows[:, j],
                "close": closes[:, j],
                "volume": volume[:, j],
            },
            index=dates,
        )
        for j, ticker in enumerate(tickers)
    }


def generate_vix(
    dates: Sequence | pd.DatetimeIndex,
    seed: int = SAMPLE_SEED,
    crash_at: int | None = None,
) -> pd.DataFrame:
    """A VIX-like index on ``dates``: open, high, low, close, indexed by ``datetime``.

    Mean-reverting (in logs) around 18, mostly within 15-25 and never above 35 before
    the crash, so that only the crash trips a VIX kill switch. On ``crash_at`` it
    closes between 48 and 56 and then decays back with a half-life of about 8 days.
    """
    index = pd.DatetimeIndex(dates, name="datetime")
    n = len(index)
    rng = np.random.default_rng(seed + 1)
    level = np.empty(n)
    log_mean, pull, noise = np.log(18.0), 0.08, 0.06
    x = log_mean
    shocks = rng.normal(0.0, noise, size=n)
    for i in range(n):
        x += pull * (log_mean - x) + shocks[i]
        level[i] = x
    closes = np.clip(np.exp(level), 11.0, 35.0)
    if crash_at is not None:
        if not 0 < crash_at < n:
            raise ValueError(f"crash_at must be an index in 1..{n - 1} (got {crash_at})")
        peak = rng.uniform(*VIX_CRASH_CLOSE)
        after = np.arange(n - crash_at)
        excess = (peak - closes[crash_at:]) * 0.5 ** (after / 8.0)
        closes[crash_at:] = closes[crash_at:] + np.maximum(excess, 0.0)
    opens = np.empty(n)
    opens[0] = closes[0]
    opens[1:] = closes[:-1] * np.exp(rng.normal(0.0, 0.02, size=n - 1))
    if crash_at is not None:
        opens[crash_at] = closes[crash_at - 1] * 1.05
    opens, closes = np.round(opens, 2), np.round(closes, 2)
    reach = np.abs(rng.normal(0.0, 0.03, size=(2, n)))
    highs = np.ceil(np.maximum(opens, closes) * (1 + reach[0]) * 100) / 100
    lows = np.floor(np.minimum(opens, closes) * (1 - reach[1]) * 100) / 100
    return pd.DataFrame({"open": opens, "high": highs, "low": lows, "close": closes}, index=index)


def generate_signals(
    prices: dict[str, pd.DataFrame],
    every_n_bars: int = 5,
    seed: int = SAMPLE_SEED,
    crowd_before: int | None = None,
) -> pd.DataFrame:
    """A signal feed over ``prices``: about one signal every ``every_n_bars`` bars per ticker.

    Columns datetime, ticker, weight, direction, source_type, source_ticker, note.
    About 40% are ``propagated`` (source_ticker is another ticker, as when news on NVDA
    moves TSM), the rest ``direct`` (source_ticker the ticker itself or empty). BUY and
    SELL are mixed, weights 0.05-0.30, and some signals are weight-0 closes. About 30%
    of directions follow the next ``SKILL_HORIZON`` bars' move (synthetic skill). With
    ``crowd_before`` (a bar index), every signal in the 12 bars before it is a 0.30 BUY.
    """
    if every_n_bars < 1:
        raise ValueError(f"every_n_bars must be at least 1 (got {every_n_bars})")
    tickers = list(prices)
    rng = np.random.default_rng(seed + 2)
    parts = []
    for j, ticker in enumerate(tickers):
        dates = prices[ticker].index
        offset = j % every_n_bars
        jitter = rng.integers(-1, 2, size=len(range(offset, len(dates), every_n_bars)))
        bars = np.unique(np.clip(np.arange(offset, len(dates), every_n_bars) + jitter, 0, len(dates) - 1))
        k = len(bars)
        weight = np.round(rng.uniform(0.05, 0.30, size=k), 2)
        direction = np.where(rng.random(k) < 0.6, "BUY", "SELL")
        close = prices[ticker]["close"].to_numpy()
        ahead = close[np.minimum(bars + SKILL_HORIZON, len(close) - 1)] / close[bars] - 1.0
        skilled = rng.random(k) < SIGNAL_SKILL
        direction[skilled] = np.where(ahead[skilled] >= 0, "BUY", "SELL")
        closing = rng.random(k) < 0.12
        weight[closing] = 0.0
        direction[closing] = "SELL"
        if crowd_before is not None:
            crowded = (bars < crowd_before) & (bars >= crowd_before - 12)
            weight[crowded], direction[crowded], closing[crowded] = 0.30, "BUY", False
        propagated = (rng.random(k) < 0.4) & (len(tickers) > 1)
        others = [t for t in tickers if t != ticker] or [ticker]
        source = np.where(rng.random(k) < 0.5, ticker, "").astype(object)
        source[propagated] = np.asarray(others, dtype=object)[rng.integers(0, len(others), size=propagated.sum())]
        notes = np.where(
            propagated,
            np.asarray(NOTES_PROPAGATED, dtype=object)[rng.integers(0, len(NOTES_PROPAGATED), size=k)],
            np.asarray(NOTES_DIRECT, dtype=object)[rng.integers(0, len(NOTES_DIRECT), size=k)],
        )
        notes = np.where(closing, "close position", notes)
        parts.append(
            pd.DataFrame(
                {
                    "datetime": dates[bars],
                    "ticker": ticker,
                    "weight": weight,
                    "direction": direction,
                    "source_type": np.where(propagated, "propagated", "direct"),
                    "source_ticker": source,
                    "note": notes,
                }
            )
        )
    if not parts:
        return pd.DataFrame(
            columns=[
                "datetime",
                "ticker",
                "weight",
                "direction",
                "source_type",
                "source_ticker",
                "note",
            ]
        )
    frame = pd.concat(parts, ignore_index=True)
    return frame.sort_values(["datetime", "ticker"], kind="stable").reset_index(drop=True)


# --- the bundled sample --------------------------------------------------------------


def write_sample(out_dir: str | Path) -> list[Path]:
    """Write the bundled sample under ``out_dir``; returns the files written.

    ``prices/<TICKER>-sample.csv`` (plain layout, first line a comment saying the data
    is synthetic), ``vix.csv`` (``DATE,OPEN,HIGH,LOW,CLOSE``) and ``signals.csv``.
    """
    out = Path(out_dir)
    crash = sample_crash_at()
    prices = generate_prices(SAMPLE_TICKERS, SAMPLE_BARS, SAMPLE_START, SAMPLE_SEED, crash)
    dates = next(iter(prices.values())).index
    vix = generate_vix(dates, SAMPLE_SEED, crash)
    feed = generate_signals(prices, every_n_bars=5, seed=SAMPLE_SEED, crowd_before=crash)
    comment = (
        f"# synthetic data generated by spine.data.synthetic (seed {SAMPLE_SEED}, crash on "
        f"{dates[crash].date()}); not real market data\n"
    )
    written = []
    for ticker, frame in prices.items():
        text = comment + frame.to_csv(date_format="%Y-%m-%d", float_format="%.2f", lineterminator="\n")
        written.append(write_text_atomically(out / "prices" / f"{ticker}-sample.csv", text))
    vix_frame = vix.rename(columns=str.upper)
    vix_frame.index.name = "DATE"
    written.append(
        write_text_atomically(
            out / "vix.csv",
            vix_frame.to_csv(date_format="%Y-%m-%d", float_format="%.2f", lineterminator="\n"),
        )
    )
    signal_text = feed.to_csv(index=False, date_format="%Y-%m-%d", float_format="%.2f", lineterminator="\n")
    written.append(write_text_atomically(out / "signals.csv", signal_text))
    return written


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m spine.data.synthetic",
        description="Write Spine's bundled SYNTHETIC sample (prices, VIX, signals); no real market data.",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("data/sample"),
        help="output folder (default data/sample)",
    )
    args = parser.parse_args(argv)
    for path in write_sample(args.out):
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
