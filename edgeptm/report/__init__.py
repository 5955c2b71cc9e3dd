"""Rendering results: text and Markdown tables, the robustness report, and plots."""
