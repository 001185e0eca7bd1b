"""History backends: one interface (base.py), one module per database."""
