"""Persistence: SQLAlchemy Core tables, engine helpers, repository functions and migrations.

Imports nothing from torch, spaCy or Prefect; from ``pipeline`` only the plain record types.
"""
