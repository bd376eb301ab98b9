"""Training: one loop for all tasks (float → QAT → prune → fine-tune), resumable."""
