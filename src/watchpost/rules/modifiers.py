"""Sigma 2.1 modifier names that pySigma 2.0.1 does not know, registered as aliases.

The modifiers appendix of the Sigma specification 2.1 lists, besides pySigma's own names:

- ``utf16le``: UTF-16 little endian encoding; ``wide`` is defined as its alias, so ``utf16le`` maps to
  pySigma's wide modifier (same transformation: ``cmd`` -> ``63 00 6d 00 64 00``).

Every other modifier of the appendix (``all``, ``startswith``, ``endswith``, ``contains``, ``exists``,
``cased``, ``neq``, ``windash``, ``re`` with ``i``/``m``/``s``, ``base64``, ``base64offset``,
``utf16be``, ``utf16``, ``wide``, ``lt``/``lte``/``gt``/``gte``, ``minute``/``hour``/``day``/``week``/
``month``/``year``, ``cidr``, ``expand``, ``fieldref``) exists in pySigma 2.0.1 under that name.

Call `register_modifier_aliases` before parsing rules; it is idempotent.
"""

from __future__ import annotations

from sigma.modifiers import SigmaWideModifier, modifier_mapping

MODIFIER_ALIASES: dict[str, type] = {
    "utf16le": SigmaWideModifier,
}


def register_modifier_aliases() -> None:
    """Make pySigma accept the spec's modifier names it lacks (safe to call repeatedly).

    A name pySigma already knows (a later pySigma version may add it) is left to pySigma.
    """
    for name, modifier in MODIFIER_ALIASES.items():
        modifier_mapping.setdefault(name, modifier)
