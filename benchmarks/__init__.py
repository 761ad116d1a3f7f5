"""Side-by-side performance benchmarks: jupyter-mlops vs MLflow (``python benchmarks/run.py``)."""
