"""Offline tools: data preparation, the PyTorch trainer, evaluation and benchmarks."""
