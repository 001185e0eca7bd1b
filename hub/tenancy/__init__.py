"""Tenants, their homes and who may use each home (issue "many homes on one hub").

A single-home install has one tenant and one home, both `DEFAULT_SCOPE`'s, made by the
migration that introduced them; it never needs anything here. `TenancyStore` (store.py) keeps
the tables of models.py; `hub tenant|home add|list|remove` is its command line.
"""
