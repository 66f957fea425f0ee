"""Solution formats: one object renders a Sample to training text and parses generations back."""

from datamodules.formats.base import SolutionFormat, Span
from datamodules.formats.cogex import CoGEXFormat
from datamodules.formats.htl import HTLFormat
from datamodules.formats.lce import LCEFormat
from datamodules.formats.markdown import MarkdownFormat

__all__ = ["CoGEXFormat", "HTLFormat", "LCEFormat", "MarkdownFormat", "SolutionFormat", "Span"]
