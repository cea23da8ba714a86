"""The tangent route for non-linear potentials: D-DOS of the model linearised at θ0 (archives
sampled with ``descriptors.tangent``, :mod:`phasetune.nonlinear.tangent`) plus a curvature
correction from MD frames of θ0."""
