"""Number-to-text formatting with vectorised polars operations (no per-element Python callbacks).

Why: polars' element-wise map functions call back into Python from polars' thread pool. In a served Streamlit app
another script thread may hold the GIL while it waits on that same pool (e.g. converting a frame for
``st.dataframe``), and the whole process deadlocks (issue 8). The functions here give the same text as Python's
format specs ``.{p}g``, ``.{n}e`` and ``.{n}f`` -- including rounding from the exact binary value with ties to even,
settled by an error-free product (Dekker's TwoProduct) -- using only polars column operations. Each works on a
whole :class:`polars.Series` in a few staged ``with_columns`` steps (small expression trees), so a call costs
microseconds per thousand values. ``tests/app/test_fmt.py`` compares them with Python's ``format`` on thousands of
values; ``tests/test_no_python_callbacks.py`` forbids the callback APIs anywhere under ``app/``.

Every function takes a numeric Series (or anything ``pl.Series`` accepts) and returns a String Series of the same
length and name.
"""

from __future__ import annotations

from collections.abc import Iterable

import polars as pl

__all__ = ["g", "e", "f", "human", "sci", "interval"]

_SUFFIXES = ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "k"))
_STR = pl.String


def _series(values: pl.Series | Iterable[float | None]) -> pl.Series:
    s = values if isinstance(values, pl.Series) else pl.Series("x", list(values), dtype=pl.Float64)
    return s.cast(pl.Float64, strict=False)


def _two_prod_err(x: pl.Expr, y: pl.Expr, p: pl.Expr) -> pl.Expr:
    """Rounding error of ``p = x * y``: x * y == p + err exactly (Dekker's TwoProduct with Veltkamp splits)."""

    def split(v: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
        c = v * 134217729.0  # 2**27 + 1
        hi = c - (c - v)
        return hi, v - hi

    xh, xl = split(x)
    yh, yl = split(y)
    return ((xh * yh - p) + xh * yl + xl * yh) + xl * yl


def _round_scaled(frame: pl.DataFrame, a: str, k: str, out: str) -> pl.DataFrame:
    """Add column ``out`` = ``a * 10**-k`` rounded to an integer as Python's formatting does.

    The scaled float is correctly rounded, so only an apparent tie (fraction exactly 0.5) can round the wrong way;
    there the sign of the product's rounding error (exact while |k| <= 22) decides, and a true tie goes to even.
    """
    av, kv = pl.col(a), pl.col(k)
    frame = frame.with_columns(_pow=pl.lit(10.0).pow(kv.abs()))
    half = (kv / 2).floor()  # beyond |k| = 300 scale in two steps (10**k overflows; ties cannot occur there)
    frame = frame.with_columns(
        _s=pl.when(kv.abs() > 300)
        .then(av / pl.lit(10.0).pow(half) / pl.lit(10.0).pow(kv - half))
        .when(kv >= 0)
        .then(av / pl.col("_pow"))
        .otherwise(av * pl.col("_pow"))
    )
    s, power = pl.col("_s"), pl.col("_pow")
    frame = frame.with_columns(_p=s * power, _fl=s.floor())
    # mult: exact = s + err; div: exact quotient - s has the sign of a - s*power = (a - p) - err
    above = (
        pl.when(kv >= 0)
        .then((av - pl.col("_p")) - _two_prod_err(s, power, pl.col("_p")))
        .otherwise(_two_prod_err(av, power, s))
    )
    fl = pl.col("_fl")
    frame = frame.with_columns(
        pl.when((s - fl) != 0.5)
        .then(s.round(0))
        .when(above > 0)
        .then(fl + 1)
        .when(above < 0)
        .then(fl)
        .otherwise(s.round(0))
        .alias(out)
    )
    return frame.drop("_pow", "_s", "_p", "_fl")


def _digits(x: pl.Series, p: int) -> pl.DataFrame:
    """Frame with x, e (decimal exponent after rounding, Int64) and ds (the ``p`` significant digits, text).

    Zero, NaN, inf and null rows get placeholder digits (callers print those values themselves).
    """
    fr = pl.DataFrame({"x": x}).with_columns(
        a=pl.when(pl.col("x").is_finite() & (pl.col("x") != 0)).then(pl.col("x").abs()).otherwise(1.0)
    )
    fr = fr.with_columns(e0=pl.col("a").log10().floor())
    fr = _round_scaled(fr.with_columns(k=pl.col("e0") - (p - 1)), "a", "k", "m0")
    fr = fr.with_columns(e=pl.when(pl.col("m0") >= 10.0**p).then(pl.col("e0") + 1).otherwise(pl.col("e0")))
    fr = _round_scaled(fr.with_columns(k=pl.col("e") - (p - 1)), "a", "k", "m")
    # a second carry can only give exactly 10**p: keep p digits
    m = pl.when(pl.col("m") >= 10.0**p).then(pl.col("m") / 10).otherwise(pl.col("m"))
    return fr.select("x", pl.col("e").cast(pl.Int64), ds=m.cast(pl.Int64).cast(_STR))


def _exp_text(e: pl.Expr) -> pl.Expr:
    """Python's exponent suffix: ``e+05``, ``e-12``, ``e+123``."""
    return pl.concat_str(
        pl.when(e < 0).then(pl.lit("e-")).otherwise(pl.lit("e+")), e.abs().cast(_STR).str.zfill(2)
    )


def _finish(fr: pl.DataFrame, body: pl.Expr, zero: str, name: str) -> pl.Series:
    """Python's text for null, nan, inf and 0 around ``body`` (the digits of |x|), with the minus sign."""
    x = pl.col("x")
    return fr.select(
        pl.when(x.is_null())
        .then(pl.lit(None, dtype=_STR))
        .when(x.is_nan())
        .then(pl.lit("nan"))
        .when(x.is_infinite())
        .then(pl.when(x > 0).then(pl.lit("inf")).otherwise(pl.lit("-inf")))
        .when(x == 0)
        .then(pl.lit(zero))
        .otherwise(pl.concat_str(pl.when(x < 0).then(pl.lit("-")).otherwise(pl.lit("")), body))
        .alias(name)
    ).to_series()


def _dot(frac: pl.Expr) -> pl.Expr:
    """ "." + frac, or "" when frac is empty."""
    return pl.when(frac.str.len_chars() > 0).then(pl.concat_str(pl.lit("."), frac)).otherwise(pl.lit(""))


def g(values: pl.Series | Iterable[float | None], digits: int = 3) -> pl.Series:
    """Text of each value as Python's ``f"{v:.{digits}g}"``: 0.48339 -> "0.483", 1.2e-05 -> "1.2e-05" (digits=3).

    Parameters
    ----------
    values : polars.Series or iterable of float
        Numbers, length n (cast to Float64; non-numbers become null).
    digits : int
        Significant digits (0 is treated as 1, as Python does).

    Returns
    -------
    polars.Series
        String, length n, same name; null stays null, NaN -> "nan", inf -> "inf" / "-inf", 0 -> "0".
    """
    x = _series(values)
    p = max(int(digits), 1)
    fr = _digits(x, p)
    ds, ev = pl.col("ds"), pl.col("e")
    sci = pl.concat_str(ds.str.slice(0, 1), _dot(ds.str.slice(1).str.strip_chars_end("0")), _exp_text(ev))
    # fixed notation: e >= 0 -> integer part is the first e+1 digits; -4 <= e < 0 -> "0.000ddd"
    fixed_pos = pl.concat_str(ds.str.head(ev + 1), _dot(ds.str.slice(ev + 1).str.strip_chars_end("0")))
    fixed_neg = pl.concat_str(pl.lit("0."), pl.lit("000").str.head(-ev - 1), ds.str.strip_chars_end("0"))
    fr = fr.with_columns(
        body=pl.when((ev < -4) | (ev >= p)).then(sci).when(ev >= 0).then(fixed_pos).otherwise(fixed_neg)
    )
    return _finish(fr, pl.col("body"), "0", x.name)


def e(values: pl.Series | Iterable[float | None], decimals: int = 3) -> pl.Series:
    """Text of each value as Python's ``f"{v:.{decimals}e}"``: 8.3812e22 -> "8.381e+22" (decimals=3).

    Returns
    -------
    polars.Series
        String, same length and name; null stays null, NaN -> "nan", inf -> "inf" / "-inf", 0 -> "0.000e+00".
    """
    x = _series(values)
    n = max(int(decimals), 0)
    fr = _digits(x, n + 1)
    ds = pl.col("ds")
    mant = pl.concat_str(ds.str.slice(0, 1), pl.lit("."), ds.str.slice(1)) if n else ds
    zero = "0" + ("." + "0" * n if n else "") + "e+00"
    return _finish(fr, pl.concat_str(mant, _exp_text(pl.col("e"))), zero, x.name)


def f(values: pl.Series | Iterable[float | None], decimals: int = 3) -> pl.Series:
    """Text of each value as Python's ``f"{v:.{decimals}f}"``: 0.27 -> "0.270" (decimals=3).

    Returns
    -------
    polars.Series
        String, same length and name; null stays null, NaN -> "nan", inf -> "inf" / "-inf". A value that rounds
        to zero prints without its minus sign. Where |v| * 10**decimals >= 2**53 (digits no longer exact) the
        text is ``.{decimals}e`` scientific notation instead.
    """
    x = _series(values)
    n = max(int(decimals), 0)
    fr = pl.DataFrame({"x": x}).with_columns(
        a=pl.when(pl.col("x").is_finite()).then(pl.col("x").abs()).otherwise(0.0), k=pl.lit(-n)
    )
    fr = _round_scaled(fr, "a", "k", "m")
    fr = fr.with_columns(
        ds=pl.col("m").cast(pl.Int64, strict=False).cast(_STR).str.zfill(n + 1),
        x=pl.when(pl.col("x").is_finite() & (pl.col("m") == 0)).then(0.0).otherwise(pl.col("x")),
    )
    ds = pl.col("ds")
    body = pl.concat_str(ds.str.head(-n), pl.lit("."), ds.str.tail(n)) if n else ds
    zero = "0" + ("." + "0" * n if n else "")
    text = _finish(fr, body, zero, x.name)
    exact = (x.abs() * 10.0**n < 2.0**53).fill_null(True) | ~x.is_finite().fill_null(True)
    return text.zip_with(exact, e(x, n))


def sci(values: pl.Series | Iterable[float | None], digits: int = 3) -> pl.Series:
    """Scientific notation with ``digits`` decimals (FLOPs): 8.3812e22 -> "8.381e+22"; "" for null or NaN."""
    x = _series(values)
    return e(x, digits).fill_null("").zip_with(~x.is_nan().fill_null(True), pl.Series([""] * len(x)))


def human(values: pl.Series | Iterable[float | None], digits: int = 4) -> pl.Series:
    """Counts with a k/M/B/T suffix and ``digits`` significant digits: 7.12e9 -> "7.12B", 1.295e12 -> "1.295T".

    Parameters
    ----------
    values : polars.Series or iterable of float
        Counts (parameters, tokens), length n.
    digits : int
        Significant digits.

    Returns
    -------
    polars.Series
        String, length n: "" for null or NaN, "inf" / "-inf", scientific notation with ``digits - 1`` decimals
        from 1e15 on (the same text as ``app.widgets.human`` on each value).
    """
    x = _series(values)
    a = x.abs()
    scale = pl.select(
        pl.when(a >= 1e15)
        .then(1.0)
        .when(a >= 1e12)
        .then(1e12)
        .when(a >= 1e9)
        .then(1e9)
        .when(a >= 1e6)
        .then(1e6)
        .when(a >= 1e3)
        .then(1e3)
        .otherwise(1.0)
    ).to_series()
    suffix = pl.select(
        pl.when((a >= 1e15) | a.is_infinite())
        .then(pl.lit(""))
        .when(a >= 1e12)
        .then(pl.lit("T"))
        .when(a >= 1e9)
        .then(pl.lit("B"))
        .when(a >= 1e6)
        .then(pl.lit("M"))
        .when(a >= 1e3)
        .then(pl.lit("k"))
        .otherwise(pl.lit(""))
    ).to_series()
    fr = pl.DataFrame(
        {
            "x": x,
            "g": g(x / scale, digits),
            "e": e(x, digits - 1),
            "suffix": suffix,
        }
    )
    out = fr.select(
        pl.when(pl.col("x").is_null() | pl.col("x").is_nan())
        .then(pl.lit(""))
        .when(pl.col("x").abs().is_finite() & (pl.col("x").abs() >= 1e15))
        .then(pl.col("e"))
        .otherwise(pl.concat_str(pl.col("g"), pl.col("suffix")))
        .alias(x.name)
    )
    return out.to_series()


def interval(lo: pl.Series, hi: pl.Series, digits: int = 3) -> pl.Series:
    """Text "[lo, hi]" with ``digits`` significant digits; null where either end is null or not finite."""
    lo, hi = _series(lo), _series(hi)
    ok = (lo.is_finite() & hi.is_finite()).fill_null(False)
    text = pl.select(pl.format("[{}, {}]", g(lo, digits), g(hi, digits))).to_series()
    return text.zip_with(ok, pl.Series([None] * len(lo), dtype=_STR)).alias("interval")
