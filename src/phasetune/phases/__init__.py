"""Phase stability from D-DOS free energies: ΔF, stable phases, transition temperatures and
their gradients (method.md §8), and forward propagation of θ ensembles."""
