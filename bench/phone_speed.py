"""Reading phones as a first sync does, every number distinct (no cache helps): the
library's ``phonenumbers.parse`` against the fast path of :mod:`shared.phone_parse`, for the
parse alone and for the whole check (parse, validity, E.164) of ``shared.phones``.

    python -m bench.phone_speed [--numbers 100000] [--rounds 3]

Half the numbers are ``+44 7911 ...`` mobiles, half ``+1 212 ...`` (NANPA, one code shared by
25 regions), each written clean (``+447911123456``) and spaced (``+44 7911 123456``); the
figures are the CPU time of this thread (``time.thread_time``), median of the rounds, in
microseconds a number, with the ratio library / fast.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import phonenumbers

from shared.phones import parse_phone, read_phone


def numbers(count: int, spaced: bool) -> list[str]:
    """``count`` distinct phones, half +44, half +1."""
    half = count // 2
    uk = [f"+44 7911 {i:06d}" if spaced else f"+447911{i:06d}" for i in range(half)]
    us = [f"+1 212 {2_000_000 + i:07d}" if spaced else f"+1212{2_000_000 + i:07d}"
          for i in range(count - half)]
    return uk + us


def us_per_number(read: Callable[[str], object], texts: list[str], rounds: int) -> float:
    for text in texts[:1000]:
        read(text)  # warm-up: metadata loaded, patterns compiled
    spent = []
    for _ in range(rounds):
        started = time.thread_time()
        for text in texts:
            read(text)
        spent.append(time.thread_time() - started)
    return statistics.median(spent) / len(texts) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--numbers", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    print(f"{args.numbers:,} distinct numbers, us a number (thread CPU, median of "
          f"{args.rounds}); library / fast:")
    for spaced in (False, True):
        texts = numbers(args.numbers, spaced)
        rows = {
            "parse": (lambda t: phonenumbers.parse(t, None), lambda t: parse_phone(t, None)),
            "check (parse, validity, E.164)": (
                lambda t: read_phone(t, None, phonenumbers.parse), lambda t: read_phone(t, None)),
        }
        for name, (library, fast) in rows.items():
            slow = us_per_number(library, texts, args.rounds)
            quick = us_per_number(fast, texts, args.rounds)
            form = "spaced" if spaced else "clean "
            print(f"  {form} {name:31} library {slow:6.1f}  fast {quick:6.1f}  "
                  f"{slow / quick:4.1f}x")


if __name__ == "__main__":
    main()
