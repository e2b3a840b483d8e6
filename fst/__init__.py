"""fst: fast neural style transfer (Johnson et al.), its training, and the Gatys optimisation method."""

__version__ = "0.1.0"
