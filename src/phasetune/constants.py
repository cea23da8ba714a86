"""Physical constants in LAMMPS metal units (eV, Å, ps, K, amu)."""

KB = 8.617333262e-5
"""Boltzmann constant, eV/K."""

HBAR = 6.582119569e-4
"""Reduced Planck constant, eV·ps."""

CU = 9648.533212
"""Unit conversion: 1 eV = CU amu·Å²·ps⁻².  ħ²/m in eV·Å² is HBAR**2 * CU / m (m in amu)."""

GPA_TO_EV_PER_A3 = 6.241509074e-3
"""1 GPa in eV/Å³."""
