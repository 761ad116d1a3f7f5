"""Command line: ``jupyter mlops ...`` (a thin face over the store and tracking)."""
