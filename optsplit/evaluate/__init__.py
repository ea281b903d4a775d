"""Independent evaluators: score a plan from the instance alone, never from a model."""
