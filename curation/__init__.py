"""curation: curate instruction-tuning data with the model in the loop."""

__version__ = "0.1.0"
