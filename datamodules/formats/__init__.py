"""Solution formats: one object renders a Sample to training text and parses generations back."""

from datamodules.formats.base import SolutionFormat, Span
from datamodules.formats.htl import HTLFormat
from datamodules.formats.lce import LCEFormat

__all__ = ["HTLFormat", "LCEFormat", "SolutionFormat", "Span"]
