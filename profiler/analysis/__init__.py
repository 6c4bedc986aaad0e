"""Layer 6, parent side: fits, forecasts, the pick, comparison, and the results of a sweep, a tuning
and a scale measurement."""
