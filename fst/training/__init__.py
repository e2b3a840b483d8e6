"""Training: the Lightning modules (one step, logging, optimizers) and their callbacks."""
