"""hilbench: the orchestrator of the hardware-in-the-loop TCP bench."""

__version__ = "0.1.0"
