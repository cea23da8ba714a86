"""From fixed-volume free energies to fixed pressure: the F(θ, V, T) surface of a phase, G(θ, P, T)
with V*, B_T, α_V, C_P, H, S and the exact ∂G/∂θ (method.md §8, Pressure)."""
