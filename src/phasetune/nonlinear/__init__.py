"""Potentials that are not linear in their parameters: per-atom energy models on per-atom
descriptors, E(X; θ) = Σ_i ε(B_i(X); θ), evaluated without LAMMPS once the B_i are stored."""
