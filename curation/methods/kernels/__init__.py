"""Numeric kernels the selectors call: TF-IDF greedy, learning-percentage scores and inputs, clusters."""
