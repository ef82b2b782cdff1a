"""Training: data sources, batch augmentation, recipes, the training loop and zero-cost scores."""
