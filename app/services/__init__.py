"""Composition of the data layer and the analysis layer, shared by the CLI and the pages (no ``st.*`` here)."""
