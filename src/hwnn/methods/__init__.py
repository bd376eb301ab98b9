"""Methods of the seeds, composed from the packages (one module per method)."""
