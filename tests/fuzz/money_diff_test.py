#!/usr/bin/env python3
"""The money parser against Python's decimal module on random inputs.

ctest money_differential: tests/fuzz/money_cli (orderd_money_parse as a
filter) and a reference written here from include/orderd/money.h, with the
JSON number grammar as a regular expression, the mantissa read by
decimal.Decimal and the exponent as a Python integer (no size limit), must
give the same result and value for every input. Inputs are random: bytes
from the number alphabet, well-formed numbers of every shape, values around
the int64 limit, and now and then numbers of hundreds of thousands of digits
with exponents as long as the text. Runs for --seconds (or --count inputs);
prints the seed, so a failure can be repeated with --seed.
"""
import argparse
import random
import re
import subprocess
import sys
import time
from decimal import Decimal

OK, ESYNTAX, EPRECISION, ENEGATIVE, ERANGE = 0, -1, -2, -3, -4
INT64_MAX = 2**63 - 1
NUMBER = re.compile(rb"(-?)(0|[1-9][0-9]*)(?:\.([0-9]+))?(?:[eE]([+-]?[0-9]+))?\Z")


def reference(text: bytes, frac: int):
    """(result, value) of parsing `text` with `frac` fraction digits, from the contract."""
    m = NUMBER.match(text)
    if m is None:
        return ESYNTAX, 0
    negative, int_part, frac_part, exp_part = m.groups()
    frac_part = frac_part or b""
    mantissa = Decimal((int_part + b"." + frac_part).decode() if frac_part else int_part.decode())
    _, digits, mexp = mantissa.as_tuple()
    exponent = mexp + (int(exp_part) if exp_part else 0)
    if all(d == 0 for d in digits):
        return OK, 0  # zero, whatever its sign and exponent
    if negative:
        return ENEGATIVE, 0
    s = "".join(map(str, digits)).lstrip("0")
    shift = exponent + frac  # the value in minor units is int(s) * 10**shift
    if shift < 0:
        if len(s) - len(s.rstrip("0")) < -shift:
            return EPRECISION, 0
        s = s[:shift]
        shift = 0
    if len(s) + shift > 19:
        return ERANGE, 0
    value = int(s) * 10**shift
    return (OK, value) if value <= INT64_MAX else (ERANGE, 0)


def digits(rng, lo, hi, first_nonzero=False):
    n = rng.randint(lo, hi)
    if n == 0:
        return ""
    # runs of zeros and nines are where carries and trimming go wrong
    pool = rng.choice(["0123456789", "0", "9", "09", "0001"])
    s = "".join(rng.choice(pool) for _ in range(n))
    if first_nonzero and s[0] == "0":
        s = rng.choice("123456789") + s[1:]
    return s


def number(rng):
    sign = "-" if rng.random() < 0.1 else ""
    whole = "0" if rng.random() < 0.3 else digits(rng, 1, 22, first_nonzero=True)
    frac = "." + digits(rng, 1, 22) if rng.random() < 0.6 else ""
    exp = ""
    if rng.random() < 0.4:
        exp = rng.choice("eE") + rng.choice(["", "+", "-"]) + rng.choice(["0", "00", ""]) + str(rng.randint(0, 40))
    return sign + whole + frac + exp


def near_limit(rng):
    # INT64_MAX minor units, written with the point and exponent moved
    base = str(INT64_MAX + rng.randint(-3, 3))
    k = rng.randint(0, 18)
    mant = base[: len(base) - k] + ("." + base[len(base) - k :] if k else "")
    e = rng.randint(-3, 3)
    return mant + (f"e{e}" if e else "")


def long_number(rng):
    n = rng.randint(1000, 200000)
    if rng.random() < 0.5:  # 0.(n zeros)1 x 10^e, e around n, or past it by digits
        e = n + rng.randint(-3, 25) if rng.random() < 0.5 else int(str(n + 1) + str(rng.randint(0, 99)))
        return "0." + "0" * n + "1e" + str(e)
    e = n + rng.randint(-3, 25) if rng.random() < 0.5 else int(str(n) + str(rng.randint(0, 99)))
    return "1" + "0" * n + "e-" + str(e)


def garbage(rng):
    return "".join(rng.choice("0123456789.eE+-") for _ in range(rng.randint(0, 24)))


def one_input(rng):
    r = rng.random()
    if r < 0.002:
        text = long_number(rng).encode()
    elif r < 0.25:
        text = garbage(rng).encode()
    elif r < 0.3:
        text = bytes(rng.randrange(256) for _ in range(rng.randint(0, 12)))
    elif r < 0.4:
        text = near_limit(rng).encode()
    else:
        text = number(rng).encode()
    frac = 2 if rng.random() < 0.6 else rng.randint(0, 25)
    return frac, text


def self_check():
    """The reference itself, on cases whose answers are known."""
    known = [
        (b"10.99", 2, (OK, 1099)), (b"1.5e1", 2, (OK, 1500)), (b"2E-0", 2, (OK, 200)), (b"-0", 2, (OK, 0)),
        (b"1.500", 2, (OK, 150)), (b"1.234", 2, (EPRECISION, 0)), (b"-1", 2, (ENEGATIVE, 0)),
        (b"01", 2, (ESYNTAX, 0)), (b"1.", 2, (ESYNTAX, 0)), (b".5", 2, (ESYNTAX, 0)), (b"+1", 2, (ESYNTAX, 0)),
        (b"92233720368547758.07", 2, (OK, INT64_MAX)), (b"92233720368547758.08", 2, (ERANGE, 0)),
        (b"1e99999999999999999999", 2, (ERANGE, 0)), (b"1e-99999999999999999999", 2, (EPRECISION, 0)),
        (b"0." + b"0" * 150000 + b"1e1500010", 2, (ERANGE, 0)), (b"0." + b"0" * 150000 + b"1e150001", 2, (OK, 100)),
    ]
    for text, frac, want in known:
        got = reference(text, frac)
        if got != want:
            sys.exit(f"the reference is wrong on {text[:40]!r}: {got}, want {want}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cli", required=True, help="tests/fuzz/money_cli")
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--count", type=int, default=0, help="stop after this many inputs instead")
    ap.add_argument("--seed", type=int, default=None)
    args = ap.parse_args()
    seed = args.seed if args.seed is not None else random.randrange(2**32)
    rng = random.Random(seed)
    self_check()
    print(f"money_differential: seed {seed}", flush=True)

    checked, results, failures = 0, {}, []
    deadline = time.monotonic() + args.seconds
    while not failures:
        if args.count and checked >= args.count:
            break
        if not args.count and time.monotonic() >= deadline:
            break
        batch = [one_input(rng) for _ in range(2000)]
        feed = "".join(f"{frac} {text.hex()}\n" for frac, text in batch).encode()
        out = subprocess.run([args.cli], input=feed, capture_output=True, check=True).stdout.decode().splitlines()
        if len(out) != len(batch):
            sys.exit(f"money_cli answered {len(out)} lines for {len(batch)} inputs")
        for (frac, text), line in zip(batch, out):
            rc, value = map(int, line.split())
            want = reference(text, frac)
            results[want[0]] = results.get(want[0], 0) + 1
            if (rc, value) != want:
                failures.append((frac, text, (rc, value), want))
        checked += len(batch)

    names = {OK: "ok", ESYNTAX: "syntax", EPRECISION: "precision", ENEGATIVE: "negative", ERANGE: "range"}
    print(f"money_differential: {checked} inputs, " +
          ", ".join(f"{names[k]} {v}" for k, v in sorted(results.items(), reverse=True)))
    for frac, text, got, want in failures[:10]:
        shown = text if len(text) <= 80 else text[:40] + b"..." + text[-30:]
        print(f"FAIL: {shown!r} ({len(text)} bytes) with {frac} digits: orderd {got}, decimal {want}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
