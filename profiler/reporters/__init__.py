"""Every rendering of results: terminal tables, markdown reports, plots and the live progress.

Each report is a small module; they share ``common`` (console, number formats, notes, the
settings and machine sections, the report writer).
"""
