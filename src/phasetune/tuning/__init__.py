"""Inverse fine-tuning of θ to thermodynamic targets without new sampling (method.md §8)."""
