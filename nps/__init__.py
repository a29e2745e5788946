"""The domain: NPS math, periods, report scope, reports, charts, exports, anonymity.

Pure code between the conversations (handlers/) and storage/: it may import storage/, never
handlers/ or bot/ (enforced by the import-linter contracts in pyproject.toml).
"""
