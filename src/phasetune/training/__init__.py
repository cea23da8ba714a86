"""Training data for θ: configurations with energies and forces, the linear design matrix, and
the Gaussian posterior / Gram metric used by uncertainty propagation and fine-tuning."""
