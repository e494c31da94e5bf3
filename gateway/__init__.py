"""Hotline gateway: diverts non-police calls from the 110 line, safely."""

__version__ = "0.1.0"
