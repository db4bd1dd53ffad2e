"""Evaluation and presentation: the nagiosplugin check and its texts, the Markdown
report and its English and French texts, the dumps."""
