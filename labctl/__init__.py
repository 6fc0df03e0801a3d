"""labctl - a break-fix lab for training and assessing IT support technicians."""

__version__ = "0.1.0"
