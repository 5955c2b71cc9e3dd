"""Measuring artifacts through their own runners: metrics, evaluation, benchmarks, robustness."""
