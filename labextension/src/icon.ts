import { LabIcon } from '@jupyterlab/ui-components';

/** A line chart over a grid, themed with JupyterLab's icon classes. */
const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16" viewBox="0 0 24 24">
  <g class="jp-icon3" fill="#616161">
    <path d="M3 3h2v16h16v2H3z"/>
    <path d="M7.4 15.6 6 14.2l4.3-4.3 3 3 4.9-4.9H16V6h5v5h-2V8.4l-5.7 5.7-3-3z"/>
  </g>
</svg>`;

export const mlopsIcon = new LabIcon({
  name: 'jupyter-mlops:runs',
  svgstr: svg
});
