"""The code point -> lower-case code point table of ``tokenizers``' BertNormalizer.

Not stored: computed on first use (about 0.3 s) from Python's ``str.lower`` plus the
generated :data:`~tfrec_inc.text.minilm.unicode_tables.LOWER_EXTRA_RUNS` (the mappings
newer than Python 3.11's Unicode 14, which ``tokenizers``, i.e. Rust's
``char::to_lowercase``, already knows).

Example:
  >>> table = lower_table()
  >>> chr(table[ord("Σ")]), chr(table[ord("A")]), chr(table[ord("a")])
  ('σ', 'a', 'a')
"""

from __future__ import annotations

import functools

import numpy as np

from tfrec_inc.text.minilm.unicode_tables import LOWER_EXTRA_RUNS


@functools.lru_cache(maxsize=1)
def lower_table() -> np.ndarray:
    """int32 code point -> lower-case code point, as tokenizers' per-char lowercase.

    Returns:
      int32 array indexed by code point, up to the highest code point that changes
      (code points beyond its end lower-case to themselves). Cached: do not modify it.
    """
    pairs = {}
    for cp in range(0x110000):
        low = chr(cp).lower()
        # Multi-char results (only U+0130) never reach lower-casing: NFD splits U+0130.
        if len(low) == 1 and low != chr(cp):
            pairs[cp] = ord(low)
    # Python 3.11 has Unicode 14 case mappings; tokenizers (Rust std) knows newer ones.
    for first, last, delta in LOWER_EXTRA_RUNS:
        for cp in range(first, last + 1):
            pairs[cp] = cp + delta
    table = np.arange(max(pairs) + 1, dtype=np.int32)
    table[list(pairs)] = list(pairs.values())
    return table
