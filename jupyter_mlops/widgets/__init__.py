"""Live metric widgets under tracked cells (a thin face: Jupyter display over tracking data).

``enable_live_view()`` (called by ``%load_ext jupyter_mlops`` and on ``import jupyter_mlops``
inside a kernel) makes runs started in this kernel show their metrics: live as a Plotly
FigureWidget in front ends that render widgets (JupyterLab, Notebook 7, VS Code), or as a
static figure and a text summary when the run ends in headless execution (papermill,
nbconvert, ``jupyter mlops run``, CI). ``live(run)`` follows any run in the store.
"""

from .follow import live
from .live import LiveView
from .manager import enable_live_view, frontend_renders_widgets, live_view_for

__all__ = ["LiveView", "enable_live_view", "frontend_renders_widgets", "live", "live_view_for"]
